//! Paying an invoice on the page: the sandbox plays Telegram's part of the payment (the
//! pre_checkout_query update, then — when the real bot answers ok — the charge in the Stripe fake
//! and the successful_payment message), and the bot's refusals reach the page as Telegram shows
//! them.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{EventStream, start_sandbox};

/// The callback data of the inline button on `message` whose text contains `label`.
fn button_data(message: &Value, label: &str) -> Option<Value> {
    message["reply_markup"]["inline_keyboard"]
        .as_array()?
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .find(|b| b["text"].as_str().is_some_and(|t| t.contains(label)))
        .map(|b| b["callback_data"].clone())
}

struct Page {
    http: reqwest::Client,
    url: String,
}

impl Page {
    async fn post(&self, path: &str, body: Value) -> support::Result<reqwest::Response> {
        Ok(self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await?)
    }

    /// `user` opens the deal by its deep link, presses Reserve, then "Pay ... now"; returns the
    /// invoice message.
    async fn invoice_for(
        &self,
        events: &mut EventStream,
        user: i64,
        offer: i64,
    ) -> support::Result<Value> {
        self.post(
            &format!("/api/users/{user}/text"),
            json!({ "text": format!("/start offer_{offer}") }),
        )
        .await?
        .error_for_status()?;
        let details = events
            .next_matching(|e| {
                e["kind"] == "bot_message"
                    && e["chat_id"] == user
                    && button_data(&e["message"], "Reserve").is_some()
            })
            .await?;
        let message_id = details["message"]["message_id"].clone();
        let reserve = button_data(&details["message"], "Reserve").ok_or("no Reserve")?;
        self.post(
            &format!("/api/users/{user}/button"),
            json!({ "message_id": message_id, "data": reserve }),
        )
        .await?
        .error_for_status()?;
        let selector = events
            .next_matching(|e| {
                e["kind"] == "bot_edit"
                    && e["message"]["message_id"] == message_id
                    && button_data(&e["message"], "now").is_some()
            })
            .await?;
        let pay_now = button_data(&selector["message"], "Pay EUR 4.50 now")
            .ok_or_else(|| format!("no 'Pay EUR 4.50 now' on {selector}"))?;
        self.post(
            &format!("/api/users/{user}/button"),
            json!({ "message_id": message_id, "data": pay_now }),
        )
        .await?
        .error_for_status()?;
        let invoice = events
            .next_matching(|e| {
                e["kind"] == "bot_message"
                    && e["chat_id"] == user
                    && e["message"]["invoice"].is_object()
            })
            .await?;
        Ok(invoice["message"].clone())
    }

    async fn pay(&self, user: i64, message_id: &Value) -> support::Result<reqwest::Response> {
        self.post(
            &format!("/api/users/{user}/pay"),
            json!({ "message_id": message_id }),
        )
        .await
    }
}

#[tokio::test]
async fn pay_on_an_invoice_drives_the_real_pre_checkout_and_successful_payment() -> support::Result
{
    let sandbox = start_sandbox().await?;
    let page = Page {
        http: reqwest::Client::new(),
        url: sandbox.url.clone(),
    };
    let customer = sandbox.session.ids.customer;
    let pool = sqlx::PgPool::connect(&sandbox.database_url).await?;
    // The business owner's bakery takes payment in the chat or at pickup.
    let (offer, mode): (i64, String) = sqlx::query_as(
        "SELECT o.id, b.payment_mode FROM offers o JOIN businesses b ON b.id = o.business_id
         WHERE b.name = 'Backstube am Alex' AND o.title LIKE 'Surprise bag%'",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(mode, "both");
    let mut events = EventStream::open(&sandbox.url, 0).await?;

    let invoice = page.invoice_for(&mut events, customer, offer).await?;
    assert_eq!(invoice["invoice"]["total_amount"], 450, "{invoice}");
    assert_eq!(invoice["invoice"]["currency"], "EUR");
    assert!(
        invoice["invoice"]["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Surprise bag")),
        "{invoice}"
    );
    let invoice_id = invoice["message_id"].clone();

    let outcome: Value = page
        .pay(customer, &invoice_id)
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(outcome["ok"], true, "{outcome}");
    let charge = outcome["provider_payment_charge_id"]
        .as_str()
        .ok_or("no charge id")?
        .to_owned();
    // The charge is at the Stripe fake, where the bot's refunds would go.
    assert_eq!(sandbox.stripe.amount_refunded(&charge), Some(0));

    let pressed = events
        .next_matching(|e| e["kind"] == "pay_pressed" && e["chat_id"] == customer)
        .await?;
    assert_eq!(pressed["message_id"], invoice_id);
    assert_eq!(pressed["total_amount"], 450);
    let answered = events
        .next_matching(|e| e["kind"] == "pre_checkout_answered")
        .await?;
    assert_eq!(answered["ok"], true, "{answered}");
    assert_eq!(
        answered["pre_checkout_query_id"],
        outcome["pre_checkout_query_id"]
    );
    let sent = events
        .next_matching(|e| e["kind"] == "payment_sent")
        .await?;
    assert_eq!(sent["provider_payment_charge_id"], charge.as_str());
    assert_eq!(sent["invoice_message_id"], invoice_id);
    let confirmation = events
        .next_matching(|e| {
            e["chat_id"] == customer
                && (e["kind"] == "bot_message" || e["kind"] == "bot_edit")
                && e["message"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("Paid: EUR 4.50"))
        })
        .await?;
    assert!(confirmation["seq"].as_u64() > sent["seq"].as_u64());
    let paid = toogoodtogo_tests::harness::eventually(Duration::from_secs(10), || async {
        let (state, payment): (String, String) = sqlx::query_as(
            "SELECT state, payment_status FROM reservations WHERE customer_id = $1
             ORDER BY id DESC LIMIT 1",
        )
        .bind(customer)
        .fetch_one(&pool)
        .await
        .ok()?;
        (state == "CONFIRMED" && payment == "PAID").then_some(())
    })
    .await;
    paid.ok_or("the reservation never became CONFIRMED and PAID")?;

    // A paid invoice cannot be paid again; a message that is no invoice cannot be paid.
    let again = page.pay(customer, &invoice_id).await?;
    assert_eq!(again.status(), reqwest::StatusCode::CONFLICT);
    let not_an_invoice = page
        .pay(customer, &json!(confirmation["message"]["message_id"]))
        .await?;
    assert_eq!(
        not_an_invoice.status(),
        reqwest::StatusCode::UNPROCESSABLE_ENTITY
    );

    // The bot refuses the checkout of a hold that expired: the page gets its error message,
    // nothing is charged, and Pay can be pressed again (and is refused again).
    let user: Value = page
        .post("/api/users", json!({ "first_name": "Lena" }))
        .await?
        .json()
        .await?;
    let late = user["id"].as_i64().ok_or("no id")?;
    let invoice = page.invoice_for(&mut events, late, offer).await?;
    // The hold commits with the update that sent the invoice, a moment after the invoice.
    let expired = toogoodtogo_tests::harness::eventually(Duration::from_secs(10), || async {
        let updated = sqlx::query(
            "UPDATE reservations SET hold_expires_at = now() - interval '1 minute'
             WHERE customer_id = $1 AND state = 'PENDING_PAYMENT'",
        )
        .bind(late)
        .execute(&pool)
        .await
        .ok()?;
        (updated.rows_affected() == 1).then_some(())
    })
    .await;
    expired.ok_or("the hold never showed up")?;
    let refused: Value = page
        .pay(late, &invoice["message_id"])
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["timed_out"], false);
    let error = refused["error_message"].as_str().unwrap_or_default();
    assert!(!error.is_empty(), "{refused}");
    assert!(refused["provider_payment_charge_id"].is_null());
    let answered = events
        .next_matching(|e| e["kind"] == "pre_checkout_answered" && e["chat_id"] == late)
        .await?;
    assert_eq!(answered["ok"], false);
    assert_eq!(answered["error_message"], error);
    let retried: Value = page
        .pay(late, &invoice["message_id"])
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(retried["ok"], false, "{retried}");

    let transcript: Value = page
        .http
        .get(format!("{}/api/transcript", sandbox.url))
        .send()
        .await?
        .json()
        .await?;
    let sent_for_late = transcript["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["chat_id"] == late && e["kind"] == "payment_sent")
        .count();
    assert_eq!(sent_for_late, 0);

    pool.close().await;
    sandbox.shutdown().await;
    Ok(())
}
