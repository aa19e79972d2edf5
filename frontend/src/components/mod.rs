//! The screens and their parts. Components only read signals and call
//! [`crate::session::Session`] methods; browser APIs live elsewhere.

mod chat;
mod controls;
mod media_problem;
mod room;
mod tile;
mod video;
mod welcome;

pub use chat::Chat;
pub use controls::{DevicePickers, MediaToggles};
pub use media_problem::MediaProblem;
pub use room::Room;
pub use tile::Tile;
pub use video::StreamVideo;
pub use welcome::Welcome;
