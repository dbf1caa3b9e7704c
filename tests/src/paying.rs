//! A shop that takes money in the chat, driven end to end through the real bot, the Telegram
//! fake and the Stripe fake, and the money invariant every payments test checks afterwards.

use std::time::Duration;

use serde_json::Value;

use crate::driver::TestUser;
use crate::harness::{BotEnv, eventually, unique_user};
use crate::market::{Marketplace, Result, text};
use crate::stripe_fake::StripeFake;

pub const API_KEY: &str = "sk_test_toogoodtogo";
pub const WEBHOOK_SECRET: &str = "whsec_toogoodtogo";
pub const NEAR: (f64, f64) = (52.521, 13.41);
pub const WAIT: Duration = Duration::from_secs(20);

/// A marketplace whose bot takes payments through the fakes, with one shop in `mode` selling
/// `units` of a deal at EUR 4.50.
pub struct PayingShop {
    pub market: Marketplace,
    pub stripe: StripeFake,
    pub owner: TestUser,
    pub offer: i64,
    pub units_posted: i32,
}

impl PayingShop {
    pub async fn start(mode: &str, units: i32) -> Result<Self> {
        Self::start_priced(mode, units, 450).await
    }

    pub async fn start_priced(mode: &str, units: i32, price_minor: i64) -> Result<Self> {
        Self::start_configured(mode, units, price_minor, |env| env).await
    }

    /// A shop whose bot gets extra settings from `configure`.
    pub async fn start_configured(
        mode: &str,
        units: i32,
        price_minor: i64,
        configure: impl FnOnce(BotEnv) -> BotEnv,
    ) -> Result<Self> {
        let stripe = StripeFake::start(API_KEY).await?;
        let stripe_url = stripe.url();
        let mut market = Marketplace::start_with(|env| {
            configure(
                env.set("STRIPE_PROVIDER_TOKEN", "284685063:TEST:provider")
                    .set("STRIPE_API_KEY", API_KEY)
                    .set("STRIPE_API_URL", stripe_url)
                    .set("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            )
        })
        .await?;
        let owner = unique_user("Ada");
        let shop = market
            .seeded_business(&owner, "Bakery Ada", NEAR.0, NEAR.1)
            .await?;
        sqlx::query("UPDATE businesses SET payment_mode = $2 WHERE id = $1")
            .bind(shop)
            .bind(mode)
            .execute(&market.stack.pool)
            .await?;
        let offer = market
            .seeded_offer(shop, "Surprise bag", units, 30, 150)
            .await?;
        if price_minor != 450 {
            sqlx::query("UPDATE offers SET price_minor = $2, original_minor = NULL WHERE id = $1")
                .bind(offer)
                .bind(price_minor)
                .execute(&market.stack.pool)
                .await?;
        }
        Ok(Self {
            market,
            stripe,
            owner,
            offer,
            units_posted: units,
        })
    }

    /// A customer at the quantity selector of the deal.
    pub async fn selector(&mut self, name: &str) -> Result<(TestUser, Value)> {
        let customer = unique_user(name);
        let selector = self.market.open_selector(&customer, self.offer).await?;
        Ok((customer, selector))
    }

    /// Presses [Pay now] and returns the invoice the fake received.
    pub async fn pay_now(&mut self, customer: &TestUser, selector: &Value) -> Result<Value> {
        self.market.press(customer, selector, "now").await?;
        let invoices = self.market.stack.fake.invoices(customer.id);
        invoices.last().cloned().ok_or_else(|| "no invoice".into())
    }

    /// A customer with an invoice for one unit.
    pub async fn invoiced(&mut self, name: &str) -> Result<(TestUser, Value)> {
        let (customer, selector) = self.selector(name).await?;
        let invoice = self.pay_now(&customer, &selector).await?;
        Ok((customer, invoice))
    }

    pub async fn pre_checkout(&mut self, customer: &TestUser, invoice: &Value) -> Result<Value> {
        let payload = invoice["payload"].as_str().unwrap_or("");
        let total = invoice["total_amount"].as_i64().unwrap_or(0);
        let update = self
            .market
            .stack
            .updates
            .pre_checkout_query(customer, payload, "EUR", total);
        let before = self.market.stack.fake.pre_checkout_answers().len();
        self.market.post(customer, update).await?;
        let answers = self.market.stack.fake.pre_checkout_answers();
        answers
            .get(before)
            .cloned()
            .ok_or_else(|| "no pre-checkout answer".into())
    }

    /// The successful_payment update Telegram sends for `charge` (not posted).
    pub fn payment_update(&self, customer: &TestUser, invoice: &Value, charge: &str) -> Value {
        let payload = invoice["payload"].as_str().unwrap_or("");
        let total = invoice["total_amount"].as_i64().unwrap_or(0);
        self.stripe.add_charge(charge, total, "eur");
        self.market.stack.updates.successful_payment(
            customer,
            payload,
            "EUR",
            total,
            &format!("tg_{charge}"),
            charge,
        )
    }

    /// Telegram took the money: posts successful_payment and waits until it is processed.
    pub async fn paid(
        &mut self,
        customer: &TestUser,
        invoice: &Value,
        charge: &str,
    ) -> Result<Vec<Value>> {
        let update = self.payment_update(customer, invoice, charge);
        self.market.post(customer, update).await
    }

    pub async fn reservation(&self, customer: &TestUser) -> Result<(i64, String, String)> {
        Ok(sqlx::query_as(
            "SELECT id, state, payment_status FROM reservations WHERE customer_id = $1
             ORDER BY id DESC LIMIT 1",
        )
        .bind(customer.id)
        .fetch_one(&self.market.stack.pool)
        .await?)
    }

    pub async fn units(&self) -> Result<(String, i32)> {
        Ok(
            sqlx::query_as("SELECT state, units_available FROM offers WHERE id = $1")
                .bind(self.offer)
                .fetch_one(&self.market.stack.pool)
                .await?,
        )
    }

    pub async fn wait_for_payment_status(&self, customer: &TestUser, status: &str) -> Result {
        let pool = &self.market.stack.pool;
        eventually(WAIT, || async {
            let current: String = sqlx::query_scalar(
                "SELECT payment_status FROM reservations WHERE customer_id = $1
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(customer.id)
            .fetch_one(pool)
            .await
            .ok()?;
            (current == status).then_some(())
        })
        .await
        .ok_or_else(|| format!("payment status never became {status}").into())
    }

    /// Waits until one of our refunds is pending at Stripe; returns Stripe's refund id.
    pub async fn pending_refund_id(&self) -> Result<String> {
        let pool = &self.market.stack.pool;
        eventually(WAIT, || async {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT stripe_refund_id FROM refunds WHERE status = 'pending'",
            )
            .fetch_one(pool)
            .await
            .ok()
            .flatten()
        })
        .await
        .ok_or_else(|| "the refund never became pending".into())
    }

    /// Waits until Stripe holds `count` refunds and none of ours is still being requested.
    pub async fn wait_for_refunds(&self, count: usize) -> Result {
        let pool = &self.market.stack.pool;
        eventually(WAIT, || async {
            let open: i64 =
                sqlx::query_scalar("SELECT count(*) FROM refunds WHERE status = 'requested'")
                    .fetch_one(pool)
                    .await
                    .ok()?;
            (open == 0 && self.stripe.refunds().len() >= count).then_some(())
        })
        .await
        .ok_or_else(|| {
            format!(
                "expected {count} refund(s) at Stripe, got {:?}",
                self.stripe.refunds()
            )
            .into()
        })
    }

    /// The money invariant, for every charge in `charges` (payer and Stripe charge id): the
    /// accounting of [`Self::assert_accounted`], and every payer was told exactly once what
    /// became of each charge: one refund notice per refunded charge, and one confirmation (with
    /// the pickup code) per charge that paid for an order, never more than one per order.
    pub async fn assert_money_invariant(&self, charges: &[(&TestUser, &str)]) -> Result {
        let outcomes = self.assert_accounted(charges).await?;
        let mut payers: Vec<i64> = charges.iter().map(|(payer, _)| payer.id).collect();
        payers.sort_unstable();
        payers.dedup();
        for payer in payers {
            let mine = outcomes.iter().filter(|o| o.payer == payer);
            let (paid_for, refunded, settling) = mine.fold((0, 0, 0), |(p, r, s), o| {
                (
                    p + usize::from(o.paid_for),
                    r + usize::from(!o.paid_for),
                    s + usize::from(o.settles),
                )
            });
            let transcript = self.market.stack.fake.transcript(payer);
            let count =
                |is: &dyn Fn(&str) -> bool| transcript.iter().filter(|m| is(text(m))).count();
            let confirmations = count(&|t| t.contains("Pickup code") && t.contains("Paid: EUR"));
            let refund_notices =
                count(&|t| t.contains("being refunded") || t.contains("refunded order #"));
            if refund_notices != refunded || confirmations < paid_for || confirmations > settling {
                return Err(format!(
                    "payer {payer}: {confirmations} confirmation(s) for {paid_for} paid order(s) \
                     ({settling} settling charge(s)), {refund_notices} refund notice(s) for \
                     {refunded} refunded charge(s): {transcript:?}"
                )
                .into());
            }
        }
        Ok(())
    }

    /// The accounting half of the invariant:
    /// - the bot recorded each charge exactly once;
    /// - each is either the settling payment of a paid reservation, or has a refund (requested,
    ///   pending, succeeded, or given up and then listed for the admins);
    /// - for the offer: units sold + units held + units available = units posted.
    pub async fn assert_accounted(&self, charges: &[(&TestUser, &str)]) -> Result<Vec<Outcome>> {
        let pool = &self.market.stack.pool;
        let mut outcomes = Vec::new();
        for (payer, charge) in charges {
            let rows: Vec<ChargeRow> = sqlx::query_as(
                "SELECT p.id AS payment, p.reservation_id AS reservation, p.settles,
                        r.payment_status AS status, f.status AS refund
                 FROM payments p
                 LEFT JOIN reservations r ON r.id = p.reservation_id
                 LEFT JOIN refunds f ON f.payment_id = p.id
                 WHERE p.provider_payment_charge_id = $1",
            )
            .bind(charge)
            .fetch_all(pool)
            .await?;
            let [row] = rows.as_slice() else {
                return Err(format!("charge {charge}: recorded {} times", rows.len()).into());
            };
            let paid_for =
                row.settles && row.reservation.is_some() && row.status.as_deref() == Some("PAID");
            let refunded = matches!(
                row.refund.as_deref(),
                Some("requested" | "pending" | "succeeded" | "failed")
            );
            if paid_for == refunded {
                return Err(format!("charge {charge}: paid for {paid_for}, yet {row:?}").into());
            }
            let settles = row.settles;
            outcomes.push(Outcome {
                payer: payer.id,
                paid_for,
                settles,
            });
        }
        let (posted, sold, held, available): (i32, i64, i64, i32) = sqlx::query_as(
            "SELECT $2::int4,
                    coalesce(sum(r.quantity) FILTER (
                        WHERE r.state IN ('CONFIRMED', 'PICKED_UP', 'NO_SHOW')), 0)::int8,
                    coalesce(sum(r.quantity) FILTER (WHERE r.state = 'PENDING_PAYMENT'), 0)::int8,
                    o.units_available
             FROM offers o LEFT JOIN reservations r ON r.offer_id = o.id
             WHERE o.id = $1 GROUP BY o.units_available",
        )
        .bind(self.offer)
        .bind(self.units_posted)
        .fetch_one(pool)
        .await?;
        let open: bool = sqlx::query_scalar(
            "SELECT state IN ('ACTIVE', 'PAUSED', 'SOLD_OUT') FROM offers WHERE id = $1",
        )
        .bind(self.offer)
        .fetch_one(pool)
        .await?;
        // An ended offer keeps what was left of it; its units are not counted back.
        if open && sold + held + i64::from(available) != i64::from(posted) {
            return Err(format!(
                "units: {sold} sold + {held} held + {available} available != {posted} posted"
            )
            .into());
        }
        Ok(outcomes)
    }
}

#[derive(Debug, sqlx::FromRow)]
struct ChargeRow {
    #[allow(dead_code)]
    payment: i64,
    reservation: Option<i64>,
    settles: bool,
    status: Option<String>,
    refund: Option<String>,
}

/// What became of one charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub payer: i64,
    pub paid_for: bool,
    pub settles: bool,
}
