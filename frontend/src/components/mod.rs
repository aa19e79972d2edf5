//! The screens and their parts. Components only read signals and call
//! [`crate::session::Session`] methods; browser APIs live elsewhere.

mod chat;
mod controls;
mod language;
mod media_problem;
mod people;
mod room;
mod self_tile;
mod setup_check;
mod shortcuts;
mod tile;
mod video;
mod welcome;

pub use chat::Chat;
pub use controls::{DevicePickers, MediaToggles, ShareButton};
pub use language::LanguagePicker;
pub use media_problem::MediaProblem;
pub use people::People;
pub use room::Room;
pub use self_tile::SelfTile;
pub use setup_check::{SetupCheck, SetupCheckLink};
pub use shortcuts::HelpOverlay;
pub use tile::Tile;
pub use video::StreamVideo;
pub use welcome::Welcome;
