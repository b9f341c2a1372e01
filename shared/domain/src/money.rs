//! Money in integer minor units with its currency (§7.5: exclusive of tax); never floating point.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount: u64,
    /// ISO 4217, as the catalog writes it (`USD`); compared without regard to case (Stripe writes `usd`).
    pub currency: String,
}

impl Money {
    pub fn new(amount: u64, currency: &str) -> Money {
        Money { amount, currency: currency.to_string() }
    }
    /// The same amount in the same currency, whatever case each writes it in.
    pub fn same_as(&self, amount: u64, currency: &str) -> bool {
        self.amount == amount && self.currency.eq_ignore_ascii_case(currency)
    }
    /// `49.00 USD`: for mail (currencies here have two minor digits).
    pub fn display(&self) -> String {
        format!("{}.{:02} {}", self.amount / 100, self.amount % 100, self.currency.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_the_same_in_any_case_of_its_currency_and_shows_two_minor_digits() {
        let m = Money::new(4905, "USD");
        assert!(m.same_as(4905, "usd") && !m.same_as(4904, "USD") && !m.same_as(4905, "EUR"));
        assert_eq!(m.display(), "49.05 USD");
    }
}
