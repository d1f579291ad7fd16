//! sea-orm entities for the tables read and written row by row. Team data (leads, spend,
//! events) is written in batches and aggregated in SQL, so it has no entity.

pub mod api_token;
pub mod team;
