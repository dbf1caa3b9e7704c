//! The page in real headless Chromium, driven over WebDriver (chromedriver speaks plain HTTP and
//! JSON, so reqwest is the whole client): load it, send /start from the bot's command menu, see
//! the greeting, press a reply keyboard button, see the answer; HTML formatting, an edit in place
//! and a deletion; a typed command, an inline button and a shared location; a new user whose
//! Telegram speaks German reserving in German while the shop reads English. Screenshots are saved
//! under `<target>/sandbox/test-output/`.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "install them with `apt-get install chromium chromium-driver` \
                            (`.ci/install-packages` does)";

struct Browser {
    http: reqwest::Client,
    session_url: String,
    _driver: tokio::process::Child,
}

impl Drop for Browser {
    /// Ends the session when a test fails halfway: killing chromedriver alone would leave its
    /// Chromium running.
    fn drop(&mut self) {
        let session_url = self.session_url.clone();
        let ended = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                reqwest::Client::new()
                    .delete(&session_url)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .ok()
            })
        });
        let _ = ended.join();
    }
}

impl Browser {
    async fn start() -> support::Result<Self> {
        let driver_port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("chromedriver did not start ({e}); {INSTALL_HINT}"))?;
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{driver_port}");
        let ready = toogoodtogo_tests::harness::eventually(Duration::from_secs(15), || async {
            let status = http.get(format!("{base}/status")).send().await.ok()?;
            let body: Value = status.json().await.ok()?;
            body["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        ready.ok_or("chromedriver did not get ready within 15 s")?;
        let session: Value = http
            .post(format!("{base}/session"))
            .json(
                &json!({ "capabilities": { "alwaysMatch": { "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1200,800"],
            } } } }),
            )
            .send()
            .await?
            .json()
            .await?;
        let id = session["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no browser session ({session}); {INSTALL_HINT}"))?;
        Ok(Self {
            session_url: format!("{base}/session/{id}"),
            http,
            _driver: driver,
        })
    }

    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> support::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.session_url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await?.json().await?;
        if answer["value"]["error"].is_string() {
            return Err(format!("WebDriver {path}: {}", answer["value"]).into());
        }
        Ok(answer["value"].clone())
    }

    async fn open(&self, url: &str) -> support::Result {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await?;
        Ok(())
    }

    async fn elements(&self, css: &str) -> support::Result<Vec<String>> {
        let found = self
            .command(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT_KEY].as_str().map(str::to_owned))
            .collect())
    }

    async fn text(&self, element: &str) -> support::Result<String> {
        let text = self
            .command(
                reqwest::Method::GET,
                &format!("/element/{element}/text"),
                None,
            )
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    async fn click(&self, element: &str) -> support::Result {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await?;
        Ok(())
    }

    async fn type_into(&self, element: &str, text: &str) -> support::Result {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await?;
        Ok(())
    }

    async fn click_first(&self, css: &str) -> support::Result {
        let found = self.elements(css).await?;
        self.click(
            found
                .first()
                .ok_or_else(|| format!("nothing matches {css}"))?,
        )
        .await
    }

    /// The texts of the elements matching `css`, once `ready` accepts them (within 20 s).
    async fn wait_for_texts(
        &self,
        css: &str,
        ready: impl Fn(&[String]) -> bool,
    ) -> support::Result<Vec<(String, String)>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut found = Vec::new();
            let mut stale = false;
            for element in self.elements(css).await? {
                // The page replaces elements as the chat changes; a vanished one means "look again".
                match self.text(&element).await {
                    Ok(text) => found.push((element, text)),
                    Err(_) => stale = true,
                }
            }
            let texts: Vec<String> = found.iter().map(|(_, t)| t.clone()).collect();
            if !stale && ready(&texts) {
                return Ok(found);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("{css}: still {texts:?} after 20 s").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn attribute(&self, element: &str, name: &str) -> support::Result<Option<String>> {
        let value = self
            .command(
                reqwest::Method::GET,
                &format!("/element/{element}/attribute/{name}"),
                None,
            )
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// Clicks the first element matching `css` whose text contains `label`, once there (within
    /// 20 s), trying again when the page replaced it meanwhile.
    async fn click_text(&self, css: &str, label: &str) -> support::Result {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        loop {
            seen.clear();
            for element in self.elements(css).await? {
                let Ok(text) = self.text(&element).await else {
                    continue;
                };
                if text.contains(label) && self.click(&element).await.is_ok() {
                    return Ok(());
                }
                seen.push(text);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("{css}: no {label:?} to click in {seen:?} after 20 s").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types a message into the composer of the open chat and sends it.
    async fn say(&self, text: &str) -> support::Result {
        let input = self.elements("#text").await?;
        self.type_into(input.first().ok_or("no #text")?, text)
            .await?;
        self.click_first("#send").await
    }

    /// The id and text of the last bot message in the open chat whose text (buttons included)
    /// `matches`, once there (within 20 s).
    async fn bot_message(
        &self,
        matches: impl Fn(&str) -> bool,
    ) -> support::Result<(String, String)> {
        let css = ".chat-log:not([hidden]) .bot-message";
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut texts = Vec::new();
            for element in self.elements(css).await?.iter().rev() {
                let Ok(text) = self.text(element).await else {
                    continue;
                };
                if matches(&text)
                    && let Ok(Some(id)) = self.attribute(element, "data-message-id").await
                {
                    return Ok((id, text));
                }
                texts.push(text);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("no such bot message after 20 s; the chat: {texts:#?}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses the inline button containing `label` under bot message `message_id`.
    async fn press(&self, message_id: &str, label: &str) -> support::Result {
        self.click_text(
            &format!(
                ".chat-log:not([hidden]) .bot-message[data-message-id=\"{message_id}\"] \
                 .inline-keyboard button"
            ),
            label,
        )
        .await
    }

    /// The text of bot message `message_id` once `ready` accepts it (it is edited in place).
    async fn message_text(
        &self,
        message_id: &str,
        ready: impl Fn(&str) -> bool,
    ) -> support::Result<String> {
        let css =
            format!(".chat-log:not([hidden]) .bot-message[data-message-id=\"{message_id}\"] .text");
        let found = self
            .wait_for_texts(&css, |t| t.first().is_some_and(|t| ready(t)))
            .await?;
        Ok(found.into_iter().next().map(|(_, t)| t).unwrap_or_default())
    }

    async fn screenshot(&self, name: &str) -> support::Result<PathBuf> {
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())?;
        let dir = toogoodtogo_sandbox::default_state_dir().join("test-output");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }
}

#[tokio::test]
async fn the_page_in_headless_chromium_sends_start_and_shows_the_greeting() -> support::Result {
    let sandbox = support::start_sandbox().await?;
    let browser = Browser::start().await?;
    browser.open(&sandbox.url).await?;

    browser
        .wait_for_texts("#connection", |t| t.iter().any(|t| t == "live"))
        .await?;
    let users = browser
        .wait_for_texts("#users li .user-name", |t| t.len() == 3)
        .await?;
    assert_eq!(users[0].1, "Carla");

    // The bot's command menu, then its /start entry.
    let menu = browser.elements("#menu").await?;
    browser.click(menu.first().ok_or("no menu button")?).await?;
    let commands = browser
        .wait_for_texts("#commands-panel button", |t| {
            t.iter().any(|t| t.starts_with("/start"))
        })
        .await?;
    let (start, _) = commands
        .iter()
        .find(|(_, text)| text.starts_with("/start"))
        .ok_or("no /start in the menu")?;
    browser.click(start).await?;

    let greeting = ".chat-log:not([hidden]) .message.bot .text";
    browser
        .wait_for_texts(greeting, |t| t.iter().any(|t| t.starts_with("Hi Carla!")))
        .await?;
    let user_messages = browser
        .wait_for_texts(".chat-log:not([hidden]) .message.user", |t| !t.is_empty())
        .await?;
    assert!(
        user_messages[0].1.starts_with("/start"),
        "{user_messages:?}"
    );
    browser.screenshot("browser-greeting").await?;

    // The role choice arrives as a reply keyboard; a click sends the button's text.
    let keyboard = browser
        .wait_for_texts("#reply-keyboard button", |t| t.len() >= 2)
        .await?;
    browser.click(&keyboard[0].0).await?;
    browser.wait_for_texts(greeting, |t| t.len() >= 2).await?;
    let path = browser.screenshot("browser-role-chosen").await?;
    assert!(path.is_file());

    // What the bot's flows will do, done here straight through the fake's Bot API: HTML
    // formatting (with markup that must not run), an edit in place, a deletion.
    let bot_api = format!(
        "{}/bot{}",
        sandbox.fake.url(),
        toogoodtogo_sandbox::SANDBOX_TOKEN
    );
    let http = reqwest::Client::new();
    let chat_id = sandbox.session.ids.customer;
    let sent: Value = http
        .post(format!("{bot_api}/sendMessage"))
        .json(&json!({ "chat_id": chat_id, "parse_mode": "HTML",
                       "text": "<b>bold</b> &amp; <img src=x onerror=alert(1)><script>alert(2)</script>" }))
        .send()
        .await?
        .json()
        .await?;
    let message_id = sent["result"]["message_id"].clone();
    let bold = browser
        .wait_for_texts(".chat-log:not([hidden]) .message.bot b", |t| {
            t.iter().any(|t| t == "bold")
        })
        .await?;
    assert_eq!(bold.len(), 1);
    assert!(
        browser
            .elements(".chat-log img, .chat-log script")
            .await?
            .is_empty()
    );
    let bot_messages = browser.elements(greeting).await?.len();

    http.post(format!("{bot_api}/editMessageText"))
        .json(
            &json!({ "chat_id": chat_id, "message_id": message_id, "parse_mode": "HTML",
                       "text": "edited <i>in place</i>" }),
        )
        .send()
        .await?
        .error_for_status()?;
    browser
        .wait_for_texts(".chat-log:not([hidden]) .message.bot i", |t| {
            t.iter().any(|t| t == "in place")
        })
        .await?;
    assert_eq!(browser.elements(greeting).await?.len(), bot_messages);
    browser.screenshot("browser-edited").await?;

    http.post(format!("{bot_api}/deleteMessage"))
        .json(&json!({ "chat_id": chat_id, "message_id": message_id }))
        .send()
        .await?
        .error_for_status()?;
    browser
        .wait_for_texts(greeting, |t| {
            t.len() == bot_messages - 1 && !t.iter().any(|t| t.contains("in place"))
        })
        .await?;

    // Typed text, then an inline button: a real callback_query; the bot edits the question.
    browser
        .type_into(
            &browser.elements("#text").await?.concat(),
            "/delete_my_data",
        )
        .await?;
    browser.click_first("#send").await?;
    let buttons = browser
        .wait_for_texts(".chat-log:not([hidden]) .inline-keyboard button", |t| {
            t.iter().any(|t| t.starts_with("No"))
        })
        .await?;
    let (keep, _) = buttons
        .iter()
        .find(|(_, text)| text.starts_with("No"))
        .ok_or("no 'No' button")?;
    browser.click(keep).await?;
    browser
        .wait_for_texts(greeting, |t| {
            t.iter().any(|t| t.contains("Nothing was erased"))
        })
        .await?;

    // A photo from the bot is shown as a placeholder with its caption.
    http.post(format!("{bot_api}/sendPhoto"))
        .json(&json!({ "chat_id": chat_id, "photo": "demo-photo-id", "caption": "Fresh bread" }))
        .send()
        .await?
        .error_for_status()?;
    browser
        .wait_for_texts(".chat-log:not([hidden]) .message.bot .photo", |t| {
            t.iter().any(|t| t.contains("demo-photo-id"))
        })
        .await?;
    browser
        .wait_for_texts(greeting, |t| t.iter().any(|t| t == "Fresh bread"))
        .await?;

    // A preset place from the location panel.
    browser.click_first("#attach-location").await?;
    browser.click_first("#places button").await?;
    browser
        .wait_for_texts(".chat-log:not([hidden]) .message.user .location-box", |t| {
            t.iter().any(|t| t.contains("Alexanderplatz"))
        })
        .await?;
    browser.screenshot("browser-location").await?;

    drop(browser);
    sandbox.shutdown().await;
    Ok(())
}

/// The number after "Order #" in a confirmation.
fn order_number(confirmation: &str) -> support::Result<String> {
    let digits: String = confirmation
        .split("Order #")
        .nth(1)
        .ok_or_else(|| format!("no order number in {confirmation:?}"))?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if digits.is_empty() {
        return Err(format!("no order number in {confirmation:?}").into());
    }
    Ok(digits)
}

#[tokio::test]
async fn a_new_customer_reserves_a_demo_deal_and_the_business_owner_sees_it_in_myoffers()
-> support::Result {
    let sandbox = support::start_sandbox().await?;
    let browser = Browser::start().await?;
    browser.open(&sandbox.url).await?;
    browser
        .wait_for_texts("#connection", |t| t.iter().any(|t| t == "live"))
        .await?;

    // A new user from the sidebar; the page switches to their chat.
    let name = browser.elements("#new-user-name").await?;
    browser
        .type_into(name.first().ok_or("no #new-user-name")?, "Nora")
        .await?;
    browser.click_first("#new-user").await?;
    browser
        .wait_for_texts("#chat-title", |t| t.iter().any(|t| t == "Nora"))
        .await?;
    browser.say("/start").await?;
    browser.bot_message(|t| t.starts_with("Hi Nora!")).await?;

    // "I'm a customer" on the reply keyboard leads to the filters.
    browser
        .click_text("#reply-keyboard button", "customer")
        .await?;
    let (menu, _) = browser
        .bot_message(|t| t.contains("Nearby") && t.contains("All deals"))
        .await?;
    browser.screenshot("reserve-1-filters").await?;

    // Nearby needs a location: the bot's reply keyboard asks Telegram for it, and the page
    // answers with a preset place.
    browser.press(&menu, "Nearby").await?;
    browser
        .bot_message(|t| t.contains("I need your location"))
        .await?;
    browser
        .click_text("#reply-keyboard button", "Share my location")
        .await?;
    browser
        .click_text(
            "#location-panel:not([hidden]) #places button",
            "Alexanderplatz",
        )
        .await?;
    let (results, card) = browser.bot_message(|t| t.starts_with("Deal 1 of")).await?;
    assert!(card.contains("Backstube am Alex"), "{card}");
    assert!(card.contains("Surprise bag"), "{card}");
    assert!(card.contains("EUR 4.50"), "{card}");
    browser.screenshot("reserve-2-nearby").await?;

    // Details, Reserve and the quantity selector all edit the same message in place.
    browser.press(&results, "Details").await?;
    browser
        .message_text(&results, |t| t.contains("Karl-Liebknecht-Straße 9"))
        .await?;
    browser.screenshot("reserve-3-details").await?;
    browser.press(&results, "🛒 Reserve").await?;
    browser
        .message_text(&results, |t| t.starts_with("Reserve 1 × Surprise bag"))
        .await?;
    browser.screenshot("reserve-4-quantity").await?;
    browser.press(&results, "Reserve 1").await?;
    let confirmation = browser
        .message_text(&results, |t| t.starts_with("✅ Reserved! Order #"))
        .await?;
    assert!(confirmation.contains("Pickup code: "), "{confirmation}");
    assert!(
        confirmation.contains("To pay at pickup: EUR 4.50"),
        "{confirmation}"
    );
    let order = order_number(&confirmation)?;
    browser.screenshot("reserve-5-confirmation").await?;

    // The business owner: told of the reservation, then /myoffers → Reservations lists it.
    browser
        .click_text("#users li[data-role=\"business_owner\"]", "Bruno")
        .await?;
    browser
        .wait_for_texts("#chat-title", |t| t.iter().any(|t| t == "Bruno"))
        .await?;
    browser
        .bot_message(|t| t.contains(&format!("New reservation #{order}: 1 × Surprise bag")))
        .await?;
    browser.say("/myoffers").await?;
    let (offer_card, _) = browser
        .bot_message(|t| t.contains("Surprise bag") && t.contains("Reservations"))
        .await?;
    browser.press(&offer_card, "Reservations").await?;
    let (list, list_text) = browser
        .bot_message(|t| t.starts_with("📋 Reservations for Surprise bag"))
        .await?;
    assert!(
        list_text.contains(&format!("#{order} 1 × for Nora — confirmed")),
        "{list_text}"
    );
    browser
        .screenshot("reserve-6-myoffers-reservations")
        .await?;

    // The pickup, confirmed from the list, reaches the customer as a rating question.
    browser.press(&list, &format!("#{order} picked up")).await?;
    browser
        .bot_message(|t| t.contains(&format!("Order #{order} picked up")))
        .await?;
    browser.click_text("#users li", "Nora").await?;
    browser
        .bot_message(|t| t.contains("How was Backstube am Alex?"))
        .await?;
    let path = browser.screenshot("reserve-7-rate").await?;
    assert!(path.is_file());

    drop(browser);
    sandbox.shutdown().await;
    Ok(())
}

/// The demo bakery's "Surprise bag" deal, for a deep link.
async fn bakery_deal(database_url: &str) -> support::Result<i64> {
    let pool = sqlx::PgPool::connect(database_url).await?;
    let offer = sqlx::query_scalar(
        "SELECT o.id FROM offers o JOIN businesses b ON b.id = o.business_id
         WHERE b.name = 'Backstube am Alex' AND o.title LIKE 'Surprise bag%'",
    )
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    Ok(offer)
}

#[tokio::test]
async fn the_customer_pays_a_demo_deal_in_the_chat_and_a_refused_checkout_shows_the_bots_reason()
-> support::Result {
    let sandbox = support::start_sandbox().await?;
    let browser = Browser::start().await?;
    browser.open(&sandbox.url).await?;
    browser
        .wait_for_texts("#connection", |t| t.iter().any(|t| t == "live"))
        .await?;
    browser
        .wait_for_texts("#chat-title", |t| t.iter().any(|t| t == "Carla"))
        .await?;

    // Carla (at Alexanderplatz already) browses Nearby deals as a customer.
    browser.say("/start").await?;
    browser.bot_message(|t| t.starts_with("Hi Carla!")).await?;
    browser
        .click_text("#reply-keyboard button", "customer")
        .await?;
    let (menu, _) = browser
        .bot_message(|t| t.contains("Nearby") && t.contains("All deals"))
        .await?;
    browser.press(&menu, "Nearby").await?;
    let (results, card) = browser.bot_message(|t| t.starts_with("Deal 1 of")).await?;
    assert!(card.contains("Backstube am Alex"), "{card}");

    // Details → Reserve: the bakery takes payment in the chat or at pickup.
    browser.press(&results, "Details").await?;
    browser
        .message_text(&results, |t| t.contains("Karl-Liebknecht-Straße 9"))
        .await?;
    browser.press(&results, "🛒 Reserve").await?;
    let question = browser
        .message_text(&results, |t| t.starts_with("Reserve 1 × Surprise bag"))
        .await?;
    assert!(question.contains("Pay in the chat now"), "{question}");
    browser.screenshot("pay-1-quantity").await?;
    browser.press(&results, "Pay EUR 4.50 now").await?;
    browser
        .message_text(&results, |t| t.contains("Invoice sent below"))
        .await?;

    // The invoice: title, description, total, and Telegram's Pay button.
    let (invoice, invoice_text) = browser
        .bot_message(|t| t.contains("EUR 4.50 · INVOICE"))
        .await?;
    assert!(invoice_text.contains("Surprise bag"), "{invoice_text}");
    assert!(
        invoice_text.contains("Backstube am Alex"),
        "the description names the shop: {invoice_text}"
    );
    let pay =
        format!(".chat-log:not([hidden]) .bot-message[data-message-id=\"{invoice}\"] .pay-button");
    browser
        .wait_for_texts(&pay, |t| t.iter().any(|t| t == "Pay EUR 4.50"))
        .await?;
    browser.screenshot("pay-2-invoice").await?;

    // Pay: the real pre_checkout_query, the bot's ok, the successful_payment, "Paid".
    browser.click_text(&pay, "Pay EUR 4.50").await?;
    let (_, paid) = browser
        .bot_message(|t| t.contains("Paid: EUR 4.50"))
        .await?;
    assert!(paid.contains("Pickup code: "), "{paid}");
    browser
        .wait_for_texts(
            ".chat-log:not([hidden]) .message.service.payment-sent",
            |t| {
                t.iter()
                    .any(|t| t.contains("You successfully transferred EUR 4.50"))
            },
        )
        .await?;
    browser
        .wait_for_texts(&pay, |t| t.iter().any(|t| t.contains("Paid")))
        .await?;
    browser.screenshot("pay-3-paid").await?;
    let charges = sandbox
        .session
        .transcript()
        .get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "payment_sent")
        .filter_map(|e| e["provider_payment_charge_id"].as_str().map(str::to_owned))
        .collect::<Vec<_>>();
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(sandbox.stripe.amount_refunded(&charges[0]), Some(0));

    // A new user opens the deal by its deep link and lets the hold run out before paying: the
    // bot refuses the checkout and the page shows its reason, as Telegram's payment form does.
    let offer = bakery_deal(&sandbox.database_url).await?;
    let name = browser.elements("#new-user-name").await?;
    browser
        .type_into(name.first().ok_or("no #new-user-name")?, "Lena")
        .await?;
    browser.click_first("#new-user").await?;
    browser
        .wait_for_texts("#chat-title", |t| t.iter().any(|t| t == "Lena"))
        .await?;
    browser.say(&format!("/start offer_{offer}")).await?;
    let (details, _) = browser
        .bot_message(|t| t.contains("Surprise bag") && t.contains("Reserve"))
        .await?;
    browser.press(&details, "🛒 Reserve").await?;
    browser
        .message_text(&details, |t| t.starts_with("Reserve 1 × Surprise bag"))
        .await?;
    browser.press(&details, "Pay EUR 4.50 now").await?;
    let (late_invoice, _) = browser
        .bot_message(|t| t.contains("EUR 4.50 · INVOICE"))
        .await?;
    let lena = sandbox
        .session
        .users()
        .into_iter()
        .find(|u| u.first_name == "Lena")
        .ok_or("no Lena")?
        .id;
    let pool = sqlx::PgPool::connect(&sandbox.database_url).await?;
    let expired = toogoodtogo_tests::harness::eventually(Duration::from_secs(10), || async {
        let updated = sqlx::query(
            "UPDATE reservations SET hold_expires_at = now() - interval '1 minute'
             WHERE customer_id = $1 AND state = 'PENDING_PAYMENT'",
        )
        .bind(lena)
        .execute(&pool)
        .await
        .ok()?;
        (updated.rows_affected() == 1).then_some(())
    })
    .await;
    pool.close().await;
    expired.ok_or("Lena's hold never showed up")?;
    let late_pay = format!(
        ".chat-log:not([hidden]) .bot-message[data-message-id=\"{late_invoice}\"] .pay-button"
    );
    browser.click_text(&late_pay, "Pay EUR 4.50").await?;
    let refusal = browser
        .wait_for_texts(
            &format!(
                ".chat-log:not([hidden]) .bot-message[data-message-id=\"{late_invoice}\"] \
                 .payment-error"
            ),
            |t| t.iter().any(|t| !t.is_empty()),
        )
        .await?;
    browser
        .wait_for_texts(
            ".chat-log:not([hidden]) .message.service.payment-failed",
            |t| t.iter().any(|t| t.contains(&refusal[0].1)),
        )
        .await?;
    // Pay is offered again (and nothing was charged).
    browser
        .wait_for_texts(&late_pay, |t| t.iter().any(|t| t == "Pay EUR 4.50"))
        .await?;
    let path = browser.screenshot("pay-4-refused").await?;
    assert!(path.is_file());

    drop(browser);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_new_german_user_on_the_page_reserves_in_german_and_the_shop_reads_english()
-> support::Result {
    let sandbox = support::start_sandbox().await?;
    let browser = Browser::start().await?;
    browser.open(&sandbox.url).await?;
    browser
        .wait_for_texts("#connection", |t| t.iter().any(|t| t == "live"))
        .await?;

    // A new user whose Telegram speaks German.
    let name = browser.elements("#new-user-name").await?;
    browser
        .type_into(name.first().ok_or("no #new-user-name")?, "Greta")
        .await?;
    browser
        .click_first("#new-user-language option[value=\"de\"]")
        .await?;
    browser.click_first("#new-user").await?;
    browser
        .wait_for_texts("#chat-title", |t| t.iter().any(|t| t == "Greta"))
        .await?;
    let greta = sandbox
        .session
        .users()
        .into_iter()
        .find(|u| u.first_name == "Greta")
        .ok_or("no Greta")?;
    assert_eq!(greta.language_code.as_deref(), Some("de"));
    browser.say("/start").await?;
    browser
        .bot_message(|t| t.starts_with("Hallo Greta!"))
        .await?;

    browser
        .click_text("#reply-keyboard button", "Essen retten")
        .await?;
    let (menu, _) = browser
        .bot_message(|t| t.contains("In der Nähe") && t.contains("Alle Angebote"))
        .await?;
    browser.press(&menu, "In der Nähe").await?;
    browser
        .bot_message(|t| t.contains("brauche ich einmal deinen Standort"))
        .await?;
    browser
        .click_text("#reply-keyboard button", "Standort teilen")
        .await?;
    browser
        .click_text(
            "#location-panel:not([hidden]) #places button",
            "Alexanderplatz",
        )
        .await?;
    let (results, card) = browser
        .bot_message(|t| t.starts_with("Angebot 1 von"))
        .await?;
    assert!(card.contains("Backstube am Alex"), "{card}");
    assert!(card.contains("4,50 €"), "{card}");
    browser.screenshot("german-1-nearby").await?;

    browser.press(&results, "🛒 Reservieren").await?;
    browser
        .message_text(&results, |t| {
            t.starts_with("1 × Surprise bag") && t.contains("für 4,50 € reservieren?")
        })
        .await?;
    browser.press(&results, "1 reservieren").await?;
    let confirmation = browser
        .message_text(&results, |t| t.starts_with("✅ Reserviert! Bestellung #"))
        .await?;
    assert!(
        confirmation.contains("Bei Abholung zu zahlen: 4,50 €"),
        "{confirmation}"
    );
    browser.screenshot("german-2-confirmation").await?;
    let order: String = confirmation
        .split("Bestellung #")
        .nth(1)
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(!order.is_empty(), "{confirmation}");

    // The shop's owner's Telegram speaks English: their notice is English.
    browser
        .click_text("#users li[data-role=\"business_owner\"]", "Bruno")
        .await?;
    browser
        .bot_message(|t| {
            t.contains(&format!("New reservation #{order}: 1 × Surprise bag"))
                && t.contains("for Greta (EUR 4.50, paid on site)")
        })
        .await?;

    drop(browser);
    sandbox.shutdown().await;
    Ok(())
}
