//! The HTTP API: the public routes and the router ([`http`]), delivery, archived
//! files and the admin endpoints ([`admin`]), and the server with its connection
//! timeouts ([`serve`]).

pub mod admin;
pub mod http;
pub mod serve;
