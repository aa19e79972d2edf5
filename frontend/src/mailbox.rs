//! Where a browser object's events go: kept until someone listens, then to
//! them. A socket or a peer connection opened ahead of need (before Join)
//! fires events before the meeting that will use it exists.

use std::cell::RefCell;
use std::rc::Rc;

pub struct Mailbox<E>(Rc<RefCell<Route<E>>>);

enum Route<E> {
    Keep(Vec<E>),
    To(Rc<dyn Fn(E)>),
}

impl<E> Clone for Mailbox<E> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<E: 'static> Mailbox<E> {
    /// Keeps what it is given until [`Mailbox::listen`].
    pub fn keeping() -> Self {
        Self(Rc::new(RefCell::new(Route::Keep(Vec::new()))))
    }

    pub fn to(on_event: impl Fn(E) + 'static) -> Self {
        Self(Rc::new(RefCell::new(Route::To(Rc::new(on_event)))))
    }

    pub fn deliver(&self, event: E) {
        let to = match &mut *self.0.borrow_mut() {
            Route::Keep(kept) => return kept.push(event),
            Route::To(to) => to.clone(),
        };
        to(event);
    }

    /// Drops the events kept so far that `unwanted` picks.
    pub fn drop_kept(&self, unwanted: impl Fn(&E) -> bool) {
        if let Route::Keep(kept) = &mut *self.0.borrow_mut() {
            kept.retain(|event| !unwanted(event));
        }
    }

    /// Sends what comes from now on to `on_event`, and what was kept so far
    /// too: in a task of its own, so after the caller has stored the object
    /// and finished what it does synchronously (an offer goes out before
    /// the candidates kept for it).
    pub fn listen(&self, on_event: impl Fn(E) + 'static) {
        let on_event: Rc<dyn Fn(E)> = Rc::new(on_event);
        let kept = match std::mem::replace(&mut *self.0.borrow_mut(), Route::To(on_event.clone())) {
            Route::Keep(kept) => kept,
            Route::To(_) => Vec::new(),
        };
        if !kept.is_empty() {
            wasm_bindgen_futures::spawn_local(async move { kept.into_iter().for_each(|event| on_event(event)) });
        }
    }
}
