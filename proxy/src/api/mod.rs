//! The HTTP API: the public routes and the router ([`http`]), delivery, archived
//! files and the admin endpoints ([`admin`]), and the server with its connection
//! timeouts ([`serve`]).

//!
//! [`access`] holds what both handler sets share about who may read what;
//! [`admin`] uses the helpers of [`http`], and [`http`] does not depend on
//! [`admin`]: the two route sets are joined here.

pub mod access;
pub mod admin;
pub mod batch;
pub mod http;
pub mod sellers;
pub mod serve;

use std::sync::Arc;

/// The whole application: the public routes with the delivery, file and admin
/// routes, `/pkg/` and `www/`.
pub fn router(state: Arc<crate::AppState>) -> axum::Router {
    http::router(state, admin::routes().merge(sellers::routes()))
}
