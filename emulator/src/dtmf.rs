//! DTMF: which keys `SendDigits` may carry and how long they take, and digits lost on the line.
//!
//! `SendDigits` "may contain numbers, the # and * characters, the letters A, B, C, D, as well as
//! lowercase w to "wait" for half a second or uppercase W to "wait" for a full second"; anything
//! else is error 21206 (https://www.twilio.com/docs/api/errors/21206). Real DTMF crosses the
//! telephone network and can be lost; a test asks for that with
//! [`Emulator::lose_digit`](crate::Emulator::lose_digit).

use std::collections::BTreeSet;

/// Every character `SendDigits` accepts.
pub(crate) const SEND_DIGITS: &str = "0123456789ABCD*#wW";

/// How long a key takes to send, in call-seconds.
pub(crate) const KEY_SECS: f64 = 0.1;

/// The pause a character stands for (`w` half a second, `W` a second), or `None` for a key.
pub(crate) fn pause_secs(c: char) -> Option<f64> {
    match c {
        'w' => Some(0.5),
        'W' => Some(1.0),
        _ => None,
    }
}

/// The digits to lose: positions in the run of every digit that reaches a Twilio side.
#[derive(Debug, Default)]
pub(crate) struct DigitLoss {
    /// Digits that reached a Twilio side (or were lost on the way) so far.
    seen: u64,
    lost: BTreeSet<u64>,
}

impl DigitLoss {
    /// Loses the digit after the next `after` ones.
    pub(crate) fn plan(&mut self, after: u64) {
        self.lost.insert(self.seen + after);
    }

    /// Counts a digit on its way; whether it is lost.
    pub(crate) fn loses_next(&mut self) -> bool {
        let position = self.seen;
        self.seen += 1;
        self.lost.remove(&position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_positions_are_lost_once() {
        let mut loss = DigitLoss::default();
        loss.plan(2);
        loss.plan(0);
        let lost: Vec<bool> = (0..5).map(|_| loss.loses_next()).collect();
        assert_eq!(lost, [true, false, true, false, false]);
    }
}
