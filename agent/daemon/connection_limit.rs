//! How many control connections one person without admin rights may hold open at
//! once. Every local user may connect to the socket (for Self Service), and each
//! connection costs the daemon a descriptor and a task until its request ends; a
//! queued install holds its connection until its check-in is over. So a person
//! may hold at most [`PER_PERSON`] at once: enough for a Self Service window and a
//! Terminal, not enough to queue installs by the hundred or run the root daemon
//! out of descriptors. Root (and the daemon's own user) is not limited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The most connections one person may hold open at once.
pub(crate) const PER_PERSON: usize = 8;

/// The open connections of each person, shared by every connection's task.
#[derive(Debug, Default)]
pub(crate) struct ConnectionLimit {
    open: Mutex<HashMap<u32, Count>>,
}

/// One person's connections.
#[derive(Debug, Default)]
struct Count {
    /// Open now.
    open: usize,
    /// Refused since the person last had none open.
    refused: u64,
}

/// A connection the limit let in; counted until dropped.
#[derive(Debug)]
pub(crate) struct Admitted {
    limit: Arc<ConnectionLimit>,
    uid: u32,
}

/// A connection the limit turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// How many this person was refused since they last had none open: the
    /// daemon logs the first and every hundredth, so a flood cannot flood the log.
    pub(crate) refused: u64,
}

impl Refused {
    /// Whether this refusal is one the daemon logs.
    pub(crate) fn worth_logging(self) -> bool {
        self.refused == 1 || self.refused % 100 == 0
    }
}

impl ConnectionLimit {
    /// Counts a new connection of `uid`, unless that person already holds
    /// [`PER_PERSON`].
    pub(crate) fn admit(self: &Arc<Self>, uid: u32) -> Result<Admitted, Refused> {
        let mut open = self.lock();
        let count = open.entry(uid).or_default();
        if count.open >= PER_PERSON {
            count.refused += 1;
            return Err(Refused { refused: count.refused });
        }
        count.open += 1;
        Ok(Admitted { limit: Arc::clone(self), uid })
    }

    /// How many connections `uid` holds open now.
    #[cfg(test)]
    pub(crate) fn open(&self, uid: u32) -> usize {
        self.lock().get(&uid).map_or(0, |count| count.open)
    }

    /// The counts; nothing is left half-changed under the lock, so a poisoned one is usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<u32, Count>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.limit.lock();
        if let Some(count) = open.get_mut(&self.uid) {
            count.open = count.open.saturating_sub(1);
            if count.open == 0 {
                open.remove(&self.uid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_holds_at_most_eight_and_gets_one_back_when_one_closes() {
        let limit = Arc::new(ConnectionLimit::default());
        let mut held: Vec<Admitted> = (0..PER_PERSON).map(|_| limit.admit(501).unwrap()).collect();
        assert_eq!(limit.open(501), PER_PERSON);
        let refusals: Vec<Refused> = (0..100).map(|_| limit.admit(501).unwrap_err()).collect();
        let logged: Vec<u64> =
            refusals.iter().filter(|refused| refused.worth_logging()).map(|refused| refused.refused).collect();
        assert_eq!(logged, [1, 100], "the first and every hundredth");
        assert!(limit.admit(502).is_ok(), "another person is not held back");
        held.pop();
        let again = limit.admit(501).expect("one closed: one more may open");
        drop(again);
        drop(held);
        assert_eq!(limit.open(501), 0);
        assert!(limit.admit(501).is_ok(), "counts start afresh");
    }
}
