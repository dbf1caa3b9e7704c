//! Owner and staff roles end to end, through the Telegram fake against the real bot binary: what
//! staff may not do is refused with a sentence, and an owner manages the staff with /staff
//! (remove a member, revoke a link) with effect at the member's very next press.

use serde_json::Value;
use toogoodtogo_tests::driver::TestUser;
use toogoodtogo_tests::harness::unique_user;
use toogoodtogo_tests::market::{Marketplace, Result, button, text};
use toogoodtogo_tests::paying::PayingShop;

/// Asks the owner for an invitation link and returns its `/start` payload.
async fn invitation(market: &mut Marketplace, owner: &TestUser) -> Result<String> {
    let invite = market.ask(owner, "/invite_staff").await?;
    let link = invite
        .split_whitespace()
        .find(|w| w.starts_with("https://t.me/TooGoodToGoTestBot?start=business_invite_"))
        .ok_or(format!("no invitation link in {invite:?}"))?;
    Ok(link.split("start=").nth(1).ok_or("no payload")?.to_owned())
}

async fn join_as_staff(market: &mut Marketplace, owner: &TestUser, member: &TestUser) -> Result {
    let payload = invitation(market, owner).await?;
    let joined = market.ask(member, &format!("/start {payload}")).await?;
    assert!(joined.contains("You now manage deals of"), "{joined}");
    Ok(())
}

/// The card of a deal in the user's /myoffers.
async fn card(market: &mut Marketplace, user: &TestUser, title: &str) -> Result<Value> {
    let replies = market.say(user, "/myoffers").await?;
    replies
        .iter()
        .find(|m| text(m).contains(title))
        .cloned()
        .ok_or_else(|| format!("no card of {title} in {replies:?}").into())
}

#[tokio::test]
async fn staff_confirm_pickups_but_owner_actions_are_refused_with_a_sentence() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let (customer, selector) = shop.selector("Carl").await?;
    let invoice = shop.pay_now(&customer, &selector).await?;
    shop.pre_checkout(&customer, &invoice).await?;
    shop.paid(&customer, &invoice, "ch_roles").await?;
    let owner = shop.owner.clone();
    let helper = unique_user("Jon");
    let market = &mut shop.market;
    join_as_staff(market, &owner, &helper).await?;

    // The owner's reservation list offers a refund; the staff member's does not.
    let owner_card = card(market, &owner, "Surprise bag").await?;
    let replies = market.press(&owner, &owner_card, "Reservations").await?;
    let owner_list = replies.last().cloned().ok_or("no owner list")?;
    let refund = button(&owner_list, "Refund #").ok_or("no refund button for the owner")?;
    let staff_card = card(market, &helper, "Surprise bag").await?;
    let replies = market.press(&helper, &staff_card, "Reservations").await?;
    let staff_list = replies.last().cloned().ok_or("no staff list")?;
    assert!(button(&staff_list, "Refund #").is_none(), "{staff_list}");
    assert!(button(&staff_list, "picked up").is_some(), "{staff_list}");

    // Refund (the owner's button, replayed by staff): refused with a sentence, nothing changes.
    let replies = market.press_data(&helper, &staff_list, &refund).await?;
    assert!(replies.is_empty(), "{replies:?}");
    assert_eq!(
        market.last_callback_answer(),
        "Only the owner of the business can refund a reservation."
    );
    assert_eq!(shop_payment(market, &customer).await?, "PAID");

    // Ending a deal with paid reservations.
    market.press(&helper, &staff_card, "End now").await?;
    assert!(
        market
            .last_callback_answer()
            .starts_with("This deal has paid reservations: only the owner"),
        "{}",
        market.last_callback_answer()
    );
    assert_eq!(
        market.current_text(helper.id, &staff_card),
        text(&staff_card)
    );

    // Editing the business (the owner's /settings button, replayed by staff).
    let settings = market.say(&owner, "/settings").await?;
    let edit = settings
        .iter()
        .find_map(|m| button(m, "Edit Bakery Ada"))
        .ok_or("no edit button for the owner")?;
    let helper_settings = market.say(&helper, "/settings").await?;
    assert!(
        helper_settings
            .iter()
            .all(|m| button(m, "Edit Bakery Ada").is_none()),
        "staff get no edit button"
    );
    market.press_data(&helper, &staff_card, &edit).await?;
    assert_eq!(
        market.last_callback_answer(),
        "Only the owner of the business can change its details."
    );

    // Inviting and managing staff.
    assert_eq!(
        market.ask(&helper, "/invite_staff").await?,
        "Only the owner of a business can invite staff."
    );
    assert_eq!(
        market.ask(&helper, "/staff").await?,
        "Only the owner of the business can manage its staff."
    );

    // What staff may do: confirm the pickup from their list.
    market.press(&helper, &staff_list, "picked up").await?;
    let state: String = sqlx::query_scalar("SELECT state FROM reservations WHERE customer_id = $1")
        .bind(customer.id)
        .fetch_one(&market.stack.pool)
        .await?;
    assert_eq!(state, "PICKED_UP");
    Ok(())
}

async fn shop_payment(market: &Marketplace, customer: &TestUser) -> Result<String> {
    Ok(
        sqlx::query_scalar("SELECT payment_status FROM reservations WHERE customer_id = $1")
            .bind(customer.id)
            .fetch_one(&market.stack.pool)
            .await?,
    )
}

#[tokio::test]
async fn an_owner_removes_staff_who_are_told_and_whose_old_buttons_stop_working() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ida");
    let helper = unique_user("Jon");
    let latecomer = unique_user("Kim");
    let business_id = market.approved_business(&owner, "Ida's Cafe").await?;
    let (offer_id, _) = market.publish_deal(&owner, "Cake slices").await?;
    join_as_staff(&mut market, &owner, &helper).await?;
    let old_card = card(&mut market, &helper, "Cake slices").await?;
    let open_link = invitation(&mut market, &owner).await?;

    // /staff lists the owner, the member with who invited them, and the unused link.
    let replies = market.say(&owner, "/staff").await?;
    let staff = replies.last().cloned().ok_or("no staff list")?;
    let listed = text(&staff);
    assert!(listed.starts_with("👥 Staff of Ida's Cafe:"), "{listed}");
    assert!(listed.contains("• Ida (@ida_"), "{listed}");
    assert!(listed.contains(") — owner"), "{listed}");
    assert!(listed.contains("• Jon (@jon_"), "{listed}");
    assert!(listed.contains(") — staff since"), "{listed}");
    assert!(listed.contains("invited by Ida"), "{listed}");
    assert!(listed.contains("Link 1: unused, works until"), "{listed}");

    // Remove asks first; Back keeps everything.
    market.press(&owner, &staff, "Remove Jon").await?;
    let question = market.current_text(owner.id, &staff);
    assert!(question.starts_with("Remove Jon (@jon_"), "{question}");
    assert!(
        question.contains("from the staff of Ida's Cafe?"),
        "{question}"
    );
    let asked = market.current(owner.id, &staff);
    let confirm = button(&asked, "Yes, remove").ok_or("no confirmation")?;
    market.press(&owner, &staff, "Back").await?;
    assert!(
        market
            .current_text(owner.id, &staff)
            .contains("— staff since")
    );

    market.press(&owner, &staff, "Remove Jon").await?;
    market.press(&owner, &staff, "Yes, remove").await?;
    let removed = market.last_callback_answer();
    assert!(
        removed.starts_with("Jon (@jon_") && removed.ends_with(" was removed."),
        "{removed}"
    );
    market
        .wait_for_text(helper.id, "You no longer manage deals of Ida's Cafe")
        .await?;
    let after = market.current(owner.id, &staff);
    assert!(!text(&after).contains("Jon"), "{after}");
    assert!(button(&after, "Remove Jon").is_none());
    assert_eq!(
        market
            .audited("business.staff_removed", business_id)
            .await?,
        1
    );

    // Pressed twice (the confirmation replayed): nothing more happens, and the owner is told.
    market.press_data(&owner, &after, &confirm).await?;
    assert_eq!(
        market.last_callback_answer(),
        "That person is no longer staff of this business."
    );
    assert_eq!(
        market
            .audited("business.staff_removed", business_id)
            .await?,
        1
    );

    // The removed member's old card no longer works, from their very next press.
    let replies = market.press(&helper, &old_card, "Pause").await?;
    assert!(replies.is_empty(), "{replies:?}");
    assert_eq!(
        market.last_callback_answer(),
        "That isn't one of your deals."
    );
    assert_eq!(market.offer_state(offer_id).await?.0, "ACTIVE");
    assert_eq!(
        market.ask(&helper, "/myoffers").await?,
        "You have no deals yet. /newdeal posts one."
    );

    // A revoked link no longer lets anyone join.
    market.press(&owner, &staff, "Revoke link 1").await?;
    assert_eq!(
        market.last_callback_answer(),
        "Link revoked: it no longer works."
    );
    assert!(!market.current_text(owner.id, &staff).contains("Link 1"));
    assert!(
        market
            .ask(&latecomer, &format!("/start {open_link}"))
            .await?
            .starts_with("This invitation is invalid")
    );
    Ok(())
}
