//! A clock that steps back runs one check-in at once, as the README says.
