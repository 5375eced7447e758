//! On-call schedules: a line's responders from an iCalendar feed.
//!
//! [`feed`] reads the feed (HTTP or file, bounded), [`rota`] turns it into shifts naming the
//! line's responders, [`refresh`] keeps the rota in the store (one replica refreshes per period,
//! under a lease; every replica reads), and [`freshness`] says whether the copy in use can be
//! trusted (for `/readyz` and `/metrics`).

pub mod feed;
pub mod freshness;
pub mod refresh;
pub mod rota;

pub use freshness::Freshness;
pub use refresh::refresh_schedule;
pub use rota::Rota;
