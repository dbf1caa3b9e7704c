//! Every user-facing string, in one catalogue per language. English is complete; other
//! languages fall back to it until they are translated.

pub mod customer;

use crate::marketplace::window::WindowDay;
use crate::marketplace::{Category, Field, Invalid, OfferState, Problem};
use crate::store::businesses::{Business, BusinessStatus};

/// The strings of one language.
pub struct Catalog {
    pub role_customer: &'static str,
    pub role_business: &'static str,
    pub help: &'static str,
    pub privacy: &'static str,
    pub delete_confirm: &'static str,
    pub delete_confirm_yes: &'static str,
    pub delete_confirm_no: &'static str,
    pub delete_done: &'static str,
    pub delete_cancelled: &'static str,
    pub delete_nothing: &'static str,
    pub unknown_command: &'static str,
    pub free_text: &'static str,
    pub unsupported_update: &'static str,
    pub slow_down: &'static str,
    pub button_no_longer_valid: &'static str,
    pub deep_link_unknown: &'static str,
    pub customer_chosen: &'static str,
    pub business_chosen: &'static str,
    pub something_went_wrong: &'static str,
    /// A button pressed in a group: the marketplace works in private chats only.
    pub private_chat_only_notice: &'static str,
    /// The supply side: registration, approval, deals.
    pub biz: BusinessTexts,
    /// The demand side: browsing, reserving, pickup, favourites, ratings, settings.
    pub cust: customer::CustomerTexts,
}

/// Strings of the business flows.
pub struct BusinessTexts {
    pub registration_intro: &'static str,
    pub ask_business_name: &'static str,
    pub ask_street: &'static str,
    pub ask_city: &'static str,
    pub ask_postal_code: &'static str,
    pub ask_phone: &'static str,
    pub ask_logo: &'static str,
    pub ask_location: &'static str,
    pub share_location_button: &'static str,
    pub skip_button: &'static str,
    pub registration_all_set: &'static str,
    pub registration_cancelled: &'static str,
    pub submit_button: &'static str,
    pub edit_button: &'static str,
    pub cancel_button: &'static str,
    pub back_button: &'static str,
    pub which_field: &'static str,
    pub draft_gone: &'static str,
    pub duplicate_business: &'static str,
    pub welcome_back_business: &'static str,
    pub no_dialogue: &'static str,
    pub approve_button: &'static str,
    pub reject_button: &'static str,
    pub suspend_button: &'static str,
    pub reinstate_button: &'static str,
    pub no_pending: &'static str,
    pub retry_refund_button: &'static str,
    pub refund_retried: &'static str,
    pub refund_not_failed: &'static str,
    pub ask_rejection_reason: &'static str,
    pub rejection_cancelled: &'static str,
    pub already_decided: &'static str,
    pub post_deal_now_button: &'static str,
    pub newdeal_no_business: &'static str,
    pub newdeal_pending: &'static str,
    pub newdeal_rejected: &'static str,
    pub newdeal_suspended: &'static str,
    pub not_your_business: &'static str,
    pub which_business: &'static str,
    pub ask_category: &'static str,
    pub ask_title: &'static str,
    pub ask_description: &'static str,
    pub ask_photo: &'static str,
    pub ask_units: &'static str,
    pub ask_units_edit: &'static str,
    pub deal_ready: &'static str,
    pub deal_cancelled: &'static str,
    pub publish_button: &'static str,
    pub edit_field_button: &'static str,
    pub view_as_customer_button: &'static str,
    pub share_link_button: &'static str,
    pub manage_button: &'static str,
    pub pause_button: &'static str,
    pub resume_button: &'static str,
    pub end_now_button: &'static str,
    pub end_confirm_button: &'static str,
    pub end_keep_button: &'static str,
    pub no_offers: &'static str,
    pub not_your_offer: &'static str,
    pub offer_already_ended: &'static str,
    pub resume_suspended: &'static str,
    pub resume_without_units: &'static str,
    pub window_ended: &'static str,
    pub edit_cancelled: &'static str,
    pub staff_cannot_invite: &'static str,
    pub staff_already_member: &'static str,
    pub staff_invite_invalid: &'static str,
    pub no_longer_staff: &'static str,
    pub name_taken_by_live_business: &'static str,
    pub identity_change_sent: &'static str,
    pub accept_change_button: &'static str,
    pub reject_change_button: &'static str,
    pub ask_change_rejection_reason: &'static str,
    pub change_rejection_cancelled: &'static str,
    pub change_already_decided: &'static str,
    pub change_accepted: &'static str,
    pub change_rejected: &'static str,
    /// The reason an application that waited too long was closed with.
    pub application_expired_reason: &'static str,
    pub remove_confirm_button: &'static str,
    pub invite_revoked: &'static str,
    pub invite_not_open: &'static str,
}

impl BusinessTexts {
    pub fn edit_business_button(&self, name: &str) -> String {
        format!("✏️ Edit {name}")
    }

    pub fn which_business_field(&self, name: &str) -> String {
        format!("What would you like to change about {name}?")
    }

    /// A member's name as the owner reads it; empty after they erased their data.
    pub fn member_name(&self, first_name: &str, username: Option<&str>) -> String {
        match (first_name.trim(), username) {
            ("", None) => "(erased their data)".to_owned(),
            ("", Some(username)) => format!("@{username}"),
            (name, None) => name.to_owned(),
            (name, Some(username)) => format!("{name} (@{username})"),
        }
    }

    pub fn staff_member_line(
        &self,
        member: &crate::store::staff::Member,
        tz: chrono_tz::Tz,
    ) -> String {
        let name = self.member_name(&member.first_name, member.username.as_deref());
        let joined = member.added_at.with_timezone(&tz).format("%d.%m.%Y %H:%M");
        match (member.role.as_str(), member.invited_by_name.as_deref()) {
            ("owner", _) => format!("• {name} — owner"),
            (_, Some(by)) if !by.trim().is_empty() => {
                format!("• {name} — staff since {joined}, invited by {by}")
            }
            _ => format!("• {name} — staff since {joined}"),
        }
    }

    pub fn open_invite_line(
        &self,
        number: usize,
        expires_at: chrono::DateTime<chrono::Utc>,
        tz: chrono_tz::Tz,
    ) -> String {
        let until = expires_at.with_timezone(&tz).format("%d.%m.%Y %H:%M");
        format!("• Link {number}: unused, works until {until}")
    }

    pub fn staff_screen(&self, business: &str, members: &[String], invites: &[String]) -> String {
        let mut text = format!("👥 Staff of {business}:\n{}", members.join("\n"));
        if members.len() < 2 {
            text.push_str("\nNo staff yet: /invite_staff creates an invitation link.");
        }
        if !invites.is_empty() {
            text.push_str(&format!(
                "\n\nInvitation links not used yet:\n{}",
                invites.join("\n")
            ));
        }
        text
    }

    pub fn remove_member_button(&self, name: &str) -> String {
        format!("🗑 Remove {name}")
    }

    pub fn revoke_invite_button(&self, number: usize) -> String {
        format!("✖️ Revoke link {number}")
    }

    pub fn remove_member_question(&self, name: &str, business: &str) -> String {
        format!(
            "Remove {name} from the staff of {business}? They can no longer manage its deals or \
             confirm pickups — from their very next tap — and are told so."
        )
    }

    pub fn member_removed(&self, name: &str) -> String {
        format!("{name} was removed.")
    }

    pub fn removed_from_staff(&self, business: &str) -> String {
        format!("You no longer manage deals of {business}: its owner removed you from the staff.")
    }

    /// An identity change for the admins: only what differs, old → new.
    pub fn change_request(
        &self,
        business: &Business,
        change: &crate::store::businesses::IdentityChange,
    ) -> String {
        let mut lines = Vec::new();
        if business.name != change.name {
            lines.push(format!("Name: {} → {}", business.name, change.name));
        }
        let old_address = format!(
            "{}, {} {}",
            business.street, business.postal_code, business.city
        );
        let new_address = format!("{}, {} {}", change.street, change.postal_code, change.city);
        if old_address != new_address {
            lines.push(format!("Address: {old_address} → {new_address}"));
        }
        if (business.latitude, business.longitude) != (change.latitude, change.longitude) {
            lines.push(format!(
                "Location: {:.5}, {:.5} → {:.5}, {:.5}",
                business.latitude, business.longitude, change.latitude, change.longitude
            ));
        }
        if business.logo_file_id != change.logo_file_id {
            lines.push(
                match change.logo_file_id {
                    Some(_) => "Logo: a new logo",
                    None => "Logo: removed",
                }
                .to_owned(),
            );
        }
        if lines.is_empty() {
            lines.push("No difference to the approved details.".to_owned());
        }
        format!(
            "✏️ {} (#{}) asks to change its listing:\n{}\n\nCustomers see the approved details \
             until you accept.",
            business.name,
            business.id,
            lines.join("\n")
        )
    }

    /// The owner's own change while it waits for an admin.
    pub fn change_waiting(&self, change: &crate::store::businesses::IdentityChange) -> String {
        format!(
            "⏳ Waiting for an admin: {}, {}, {} {}. Customers see the approved details until \
             then.",
            change.name, change.street, change.postal_code, change.city
        )
    }

    pub fn change_accepted_notice(&self, name: &str) -> String {
        format!("✅ Your change was accepted: customers now see {name} with the new details.")
    }

    pub fn change_rejected_notice(&self, name: &str, reason: &str) -> String {
        format!(
            "Your change to {name} was not accepted.\nReason: {reason}\n\nYour listing keeps \
             its approved details; you can propose another change in /settings."
        )
    }

    /// Why a staff member's press or command was refused.
    pub fn owner_only(&self, action: crate::marketplace::permissions::Action) -> &'static str {
        use crate::marketplace::permissions::Action;
        match action {
            Action::Refund => "Only the owner of the business can refund a reservation.",
            Action::EndDealWithPaid => {
                "This deal has paid reservations: only the owner of the business can end it \
                 (ending it refunds them)."
            }
            Action::EditBusiness => "Only the owner of the business can change its details.",
            Action::InviteStaff => self.staff_cannot_invite,
            Action::ManageStaff => "Only the owner of the business can manage its staff.",
            Action::SeeReservations
            | Action::ConfirmPickup
            | Action::PostDeal
            | Action::ManageDeal => "Only the owner of the business can do that.",
        }
    }

    pub fn business_updated(&self, summary: &str) -> String {
        format!("✅ Saved. Customers see the change at once.\n\n{summary}")
    }
}

impl Catalog {
    /// A field's name as people read it.
    pub fn field_name(&self, field: Field) -> &'static str {
        match field {
            Field::BusinessName => "Business name",
            Field::Street => "Street and number",
            Field::City => "City",
            Field::PostalCode => "Postal code",
            Field::Phone => "Phone",
            Field::Logo => "Logo",
            Field::Location => "Location",
            Field::Category => "Category",
            Field::Title => "Title",
            Field::Description => "Description",
            Field::Photo => "Photo",
            Field::PickupWindow => "Pickup window",
            Field::Units => "Units",
            Field::Price => "Price per unit",
            Field::OriginalValue => "Original value",
            Field::RejectionReason => "Reason",
        }
    }

    fn field_example(&self, field: Field) -> &'static str {
        match field {
            Field::BusinessName => "Bakery Ada",
            Field::Street => "Main Street 12",
            Field::City => "Berlin",
            Field::PostalCode => "10115",
            Field::Phone => "+49 30 1234567",
            Field::Logo => "send a photo, or tap Skip",
            Field::Location => "tap “📍 Share location” or attach a location pin",
            Field::Category => "Bakery",
            Field::Title => "Surprise bag",
            Field::Description => "Bread and pastries of the day",
            Field::Photo => "send a photo, or tap Skip",
            Field::PickupWindow => "today 18:00-20:00",
            Field::Units => "5",
            Field::Price => "4.50",
            Field::OriginalValue => "12.00",
            Field::RejectionReason => "The address could not be verified",
        }
    }

    /// Refusal of an answer: the field, what is wrong, and a correct example.
    pub fn invalid(&self, invalid: Invalid) -> String {
        let problem = match invalid.problem {
            Problem::Length { min, max } => format!("must be {min} to {max} characters long"),
            Problem::Format => match invalid.field {
                Field::Street => "needs the street name and the house number".to_owned(),
                Field::PickupWindow => {
                    "must be a day and a time range (today, tomorrow or a date like 30.11.)"
                        .to_owned()
                }
                Field::Units => "must be a whole number".to_owned(),
                Field::Price | Field::OriginalValue => {
                    "must be an amount like 4 or 4.50".to_owned()
                }
                Field::Category => "must be one of the buttons below".to_owned(),
                _ => "is not in a form I understand".to_owned(),
            },
            Problem::NotPositive => "must be more than zero".to_owned(),
            Problem::NotBelowOriginal => {
                "the price must be lower than the original value".to_owned()
            }
            Problem::EndsBeforeStart => "must end after it starts".to_owned(),
            Problem::AlreadyEnded => "has already ended; pick a time in the future".to_owned(),
            Problem::TooFarAhead => "may end at most 48 hours from now".to_owned(),
            Problem::TooLarge => "is larger than allowed".to_owned(),
            Problem::OutsideInvoiceLimits { min, max, digits } => {
                let major = |minor: i64| {
                    let scale = 10_i64.pow(digits);
                    match digits {
                        0 => minor.to_string(),
                        _ => format!(
                            "{}.{:0w$}",
                            minor / scale,
                            minor % scale,
                            w = digits as usize
                        ),
                    }
                };
                format!(
                    "must be between {} and {} to be paid in the chat (Telegram's limits); \
                     to sell for less, take payment at the counter too in /settings",
                    major(min),
                    major(max)
                )
            }
        };
        format!(
            "⚠️ {}: {problem}.\nFor example: {}",
            self.field_name(invalid.field),
            self.field_example(invalid.field)
        )
    }

    pub fn category_label(&self, category: Category) -> &'static str {
        match category {
            Category::ReadyMeals => "🍱 Ready-to-eat meals",
            Category::Bakery => "🥐 Bakery",
            Category::Produce => "🥕 Fruits & veggies",
            Category::Groceries => "🛒 Groceries",
            Category::Other => "📦 Other",
        }
    }

    /// A category from its button label or its name typed by hand.
    pub fn parse_category(&self, text: &str) -> Option<Category> {
        let typed = text.trim().to_lowercase();
        Category::ALL.into_iter().find(|c| {
            let label = self.category_label(*c).to_lowercase();
            label == typed || label.split_once(' ').is_some_and(|(_, name)| name == typed)
        })
    }

    pub fn registration_summary(
        &self,
        draft: &crate::handlers::business::registration::Draft,
    ) -> String {
        let value = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
        let location = match (draft.latitude, draft.longitude) {
            (Some(lat), Some(lon)) => format!("{lat:.5}, {lon:.5}"),
            _ => "—".to_owned(),
        };
        format!(
            "Please check your business:\n\n\
             Name: {}\nAddress: {}, {} {}\nPhone: {}\nLogo: {}\nLocation: {location}\n\n\
             Submit it for approval? An admin checks every business before it can post deals.",
            value(&draft.name),
            value(&draft.street),
            value(&draft.postal_code),
            value(&draft.city),
            draft.phone.clone().unwrap_or_else(|| "none".to_owned()),
            if draft.logo_file_id.is_some() {
                "yes"
            } else {
                "none"
            },
        )
    }

    pub fn submitted(&self, name: &str) -> String {
        format!(
            "✅ {name} was submitted for approval. You'll get a message here as soon as an \
             admin has looked at it."
        )
    }

    fn business_facts(&self, business: &Business) -> String {
        format!(
            "{} (#{})\n{}, {} {}\nPhone: {}\nLocation: {:.5}, {:.5}",
            business.name,
            business.id,
            business.street,
            business.postal_code,
            business.city,
            business.phone.as_deref().unwrap_or("none"),
            business.latitude,
            business.longitude
        )
    }

    /// The admins' notification of a new application.
    pub fn new_application(&self, business: &Business, matching: &[Business]) -> String {
        format!(
            "🆕 New business application:\n\n{}{}",
            self.business_facts(business),
            self.side_by_side(matching)
        )
    }

    /// The businesses an application shares its name and address with, for the admin to
    /// compare.
    fn side_by_side(&self, matching: &[Business]) -> String {
        if matching.is_empty() {
            return String::new();
        }
        let others: Vec<String> = matching
            .iter()
            .map(|other| {
                let status = match other.status() {
                    BusinessStatus::Approved => "approved",
                    BusinessStatus::Suspended => "suspended",
                    BusinessStatus::Pending => "also waiting for approval",
                    BusinessStatus::Rejected => "rejected",
                };
                format!("— {status}:\n{}", self.business_facts(other))
            })
            .collect();
        format!(
            "\n\n⚠️ Same name and address as:\n{}\n\nCompare them: only one can be approved.",
            others.join("\n")
        )
    }

    /// What the applicant hears when their application matches another business.
    pub fn submitted_for_comparison(&self, name: &str) -> String {
        format!(
            "✅ {name} was submitted for approval. It is under review: an admin checks it \
             together with another business of the same name and address. You'll get a message \
             here as soon as they have decided."
        )
    }

    /// An application expires tomorrow.
    pub fn application_expiring(&self, name: &str) -> String {
        format!(
            "⏳ Your application for {name} has waited 13 days for an admin. If it is not \
             decided by tomorrow it expires; you can then apply again with /register_business."
        )
    }

    /// One application in /pending.
    /// What a group is told once: the marketplace works in private chats.
    pub fn private_chat_only(&self, link: &str) -> String {
        format!(
            "👋 I work in private chats only, so that reservations and pickup codes stay \
             personal. Talk to me here: {link}"
        )
    }

    pub fn payments_attention_heading(&self, count: usize) -> String {
        format!("💳 Payments needing attention: {count}")
    }

    /// A payment the bot could not place, or whose refund was given up.
    pub fn payment_needing_attention(
        &self,
        p: &crate::store::payments::PaymentNeedingAttention,
    ) -> String {
        let total = crate::marketplace::money::format_amount(p.amount_minor, &p.currency);
        let payer = match (&p.payer_name, p.payer_id) {
            (Some(name), Some(id)) if !name.is_empty() => format!("{name} ({id})"),
            (_, Some(id)) => id.to_string(),
            _ => "unknown".to_owned(),
        };
        let order = p
            .reservation_id
            .map(|id| format!("order #{id}"))
            .unwrap_or_else(|| "no order".to_owned());
        let state = match (p.refund_status.as_deref(), &p.last_error) {
            (Some("failed"), Some(error)) => format!("refund FAILED: {error}"),
            (Some("failed"), None) => "refund FAILED".to_owned(),
            (Some(status), _) => format!("refund {status}"),
            (None, _) => "no refund".to_owned(),
        };
        format!(
            "Payment {id}: {total} from {payer}, {order}\ncharge {charge}\n{state}",
            id = p.payment_id,
            charge = p.charge_id
        )
    }

    pub fn application(&self, business: &Business, matching: &[Business]) -> String {
        format!(
            "Waiting for approval:\n\n{}{}",
            self.business_facts(business),
            self.side_by_side(matching)
        )
    }

    /// What the admin sees after a decision.
    pub fn decision_done(&self, business: &Business) -> String {
        let outcome = match business.status() {
            BusinessStatus::Approved => "✅ Approved",
            BusinessStatus::Rejected => "❌ Rejected",
            BusinessStatus::Suspended => "⏸ Suspended (its deals are paused)",
            BusinessStatus::Pending => "Pending",
        };
        format!("{outcome}: {}", self.business_facts(business))
    }

    /// What the business is told about a decision.
    pub fn decision_notice(&self, business: &Business, from: BusinessStatus) -> String {
        match business.status() {
            BusinessStatus::Approved if from == BusinessStatus::Suspended => format!(
                "✅ {} is active again. Your deals stay paused until you resume them in /myoffers.",
                business.name
            ),
            BusinessStatus::Approved => format!(
                "🎉 {} was approved! You can post your first deal now (or any time with /newdeal).",
                business.name
            ),
            BusinessStatus::Rejected => format!(
                "Sorry, {} was not approved.\nReason: {}\n\nYou can correct it and apply again \
                 with /register_business.",
                business.name,
                business.rejection_reason.as_deref().unwrap_or("—")
            ),
            BusinessStatus::Suspended => format!(
                "⏸ {} was suspended by an admin. Its deals are paused and hidden from customers \
                 until it is reinstated.",
                business.name
            ),
            BusinessStatus::Pending => format!("{} is waiting for approval.", business.name),
        }
    }

    pub fn ask_window(&self, timezone: &str) -> String {
        format!(
            "When can customers pick up? Send the day and the time range ({timezone} time), \
             e.g.\n• today 18:00-20:00\n• tomorrow 8:00-10:30\n• 30.11. 17:00-19:00\n\
             It must end within the next 48 hours."
        )
    }

    pub fn ask_price(&self, currency: &str) -> String {
        format!("Price per unit in {currency}? For example: 4.50")
    }

    pub fn ask_original(&self, currency: &str) -> String {
        format!(
            "What is it normally worth in {currency}? (“worth {currency} 12, yours for \
             {currency} 4”) For example: 12.00 — or tap Skip."
        )
    }

    pub fn deal_preview(&self, card: &str) -> String {
        format!("This is how customers will see your deal:\n\n{card}")
    }

    pub fn published(&self, card: &str) -> String {
        format!("✅ Your deal is live!\n\n{card}")
    }

    pub fn customer_view(&self, card: &str) -> String {
        format!("👀 As customers see it:\n\n{card}")
    }

    pub fn share(&self, title: &str, link: &str) -> String {
        format!("Share “{title}” with this link:\n{link}")
    }

    pub fn end_confirm(&self, title: &str, live: i64, paid: i64) -> String {
        let reservations = match (live, paid) {
            (0, _) => "It has no open reservations.".to_owned(),
            (live, 0) => {
                format!("Its {live} open reservation(s) are cancelled and the customers told.")
            }
            (live, paid) => format!(
                "Its {live} open reservation(s) are cancelled and the customers told; the {paid} \
                 paid one(s) are refunded in full."
            ),
        };
        format!(
            "End “{title}” now? Customers can no longer reserve it. {reservations} This cannot be \
             undone."
        )
    }

    /// A window edit refused because customers reserved for the current window.
    pub fn window_locked(&self, live: i64) -> String {
        format!(
            "⚠️ {live} customer(s) reserved for the current pickup window, so it can only be \
             widened (start earlier or end later), not moved or shortened. To stop the deal, \
             end it: open reservations are then cancelled and paid ones refunded."
        )
    }

    pub fn which_offer_field(&self, title: &str) -> String {
        format!("What do you want to change in “{title}”?")
    }

    pub fn offer_updated(&self, card: &str) -> String {
        format!("✅ Updated.\n\n{card}")
    }

    pub fn not_in_state(&self, state: OfferState) -> String {
        format!("Not possible: this deal is {}.", self.state_name(state))
    }

    fn state_name(&self, state: OfferState) -> &'static str {
        match state {
            OfferState::Active => "live",
            OfferState::Paused => "paused",
            OfferState::SoldOut => "sold out",
            OfferState::Expired => "over (pickup window ended)",
            OfferState::ExpiredEarly => "ended",
        }
    }

    pub fn state_changed(&self, state: OfferState) -> &'static str {
        match state {
            OfferState::Active => "▶️ Live again",
            OfferState::Paused => "⏸ Paused",
            OfferState::SoldOut => "Sold out",
            OfferState::Expired | OfferState::ExpiredEarly => "⏹ Ended",
        }
    }

    pub fn card_state(&self, state: OfferState) -> &'static str {
        match state {
            OfferState::Active => "🟢 Live",
            OfferState::Paused => "⏸ Paused",
            OfferState::SoldOut => "🔴 Sold out",
            OfferState::Expired => "⚪️ Expired",
            OfferState::ExpiredEarly => "⚪️ Ended early",
        }
    }

    pub fn card_price_with_original(&self, original: &str, price: &str) -> String {
        format!("worth {original}, yours for {price}")
    }

    pub fn card_pickup(&self, day: &WindowDay, from: &str, to: &str) -> String {
        match day {
            WindowDay::Today => format!("Pickup today {from}–{to}"),
            WindowDay::Tomorrow => format!("Pickup tomorrow {from}–{to}"),
            WindowDay::On(date) => format!("Pickup {} {from}–{to}", date.format("%a %d.%m.")),
        }
    }

    pub fn card_units(&self, units: i32) -> String {
        format!("{units} left")
    }

    /// The business's summary when the expiry job ends a deal.
    pub fn expired_summary(
        &self,
        title: &str,
        reserved: i64,
        picked_up: i64,
        units_left: i32,
    ) -> String {
        format!(
            "⏹ The pickup window of “{title}” has ended.\n\
             Reserved: {reserved} · picked up: {picked_up} · left unreserved: {units_left}.\n\
             Post the next deal with /newdeal."
        )
    }

    pub fn staff_invite(&self, business: &str, link: &str, hours: i32) -> String {
        format!(
            "Send this link to the person who should manage deals of {business}. It works once \
             and for {hours} hours:\n{link}"
        )
    }

    pub fn staff_joined(&self, business: &str) -> String {
        format!("👋 You now manage deals of {business}: /newdeal posts one, /myoffers lists them.")
    }

    pub fn staff_joined_owner_notice(&self, who: &str, business: &str) -> String {
        format!("{who} joined {business} as staff.")
    }

    pub fn greeting(&self, first_name: &str) -> String {
        let name = if first_name.trim().is_empty() {
            "there"
        } else {
            first_name
        };
        format!(
            "Hi {name}! 🥐 Too Good To Go rescues surplus food: shops and restaurants post \
             discounted deals, you reserve and pick them up before closing.\n\n\
             Are you here to rescue food, or to offer it?"
        )
    }
}

pub static EN: Catalog = Catalog {
    role_customer: "🛒 I'm a customer",
    role_business: "🏪 I'm a business",
    help: "Too Good To Go helps shops and restaurants sell surplus food at a discount instead of \
           throwing it away.\n\n\
           Commands:\n\
           /start – choose whether you rescue food or offer it\n\
           /help – this message\n\
           /privacy – what the bot stores about you\n\
           /delete_my_data – erase your personal data\n\n\
           For customers:\n\
           /browse – deals nearby, all deals, ending soon\n\
           /my_reservations – your pickups and codes\n\
           /favourites – shops you follow\n\
           /settings – alerts, quiet hours, radius\n\n\
           For businesses:\n\
           /register_business – offer surplus food as a business\n\
           /newdeal – post a deal\n\
           /myoffers – pause, edit or end your deals\n\
           /pickup – confirm a pickup with the customer's code\n\
           /invite_staff – let staff manage your deals\n\
           /staff – your staff and open invitation links (owners)\n\n\
           Roles: staff post and manage deals and confirm pickups; only the owner refunds, ends \
           a deal with paid reservations, edits the business and invites or removes staff.\n\n\
           Customers find nearby deals, reserve, and pick up in the shop's pickup window. \
           Businesses post deals in under two minutes.",
    privacy: "What the bot stores about you:\n\
              • your Telegram id, first and last name, username and language, and when you first \
              and last wrote to the bot;\n\
              • the messages you send to the bot, for 7 days, so that none is lost if the \
              service restarts;\n\
              • answers of an unfinished dialogue, until you finish or cancel it;\n\
              • the location you share for nearby deals, your /settings and favourite shops;\n\
              • your reservations and ratings, which the shops need for pickups and payments \
              (your name is shown to the shop with a reservation);\n\
              • if you own or work for a business: the business's details and who acts for it.\n\n\
              Payments go through Telegram and Stripe; the bot stores only the charge ids and \
              amounts. Nothing else is shared with third parties.\n\n\
              /delete_my_data erases your name, username, language, saved location, settings, \
              favourites, rating comments and unfinished dialogues; drops messages waiting to be \
              sent to you; replaces your name in messages to shops with “(customer erased their \
              data)”, as their reservation lists show it; ends your staff memberships; and \
              clears the details of the log entries about your settings, location, favourites \
              and ratings.\n\n\
              What stays, and for how long:\n\
              • your Telegram id, without a name, so that the records below stay consistent \
              (writing to the bot again records your name anew);\n\
              • reservations, payments, refunds and star ratings, without your name: they are \
              the bookkeeping of orders and stay;\n\
              • businesses you own, with their name, address, phone and logo: they are the \
              business's records, not yours, and stay until the business is closed;\n\
              • log entries of what happened when (without the details above) for 90 days; \
              those about orders and money keep their states and amounts;\n\
              • the messages you sent and were sent in the last 7 days, until they are deleted \
              after 7 days.",
    delete_confirm: "Erase your personal data? Your name, username, language, saved location, \
                     settings, favourites and rating comments are removed, unfinished dialogues \
                     and pending notifications are dropped, your name is removed from messages \
                     to shops and your staff memberships end. Reservations, payments and \
                     businesses you own stay as records (see /privacy). This cannot be undone.",
    delete_confirm_yes: "Yes, erase my data",
    delete_confirm_no: "No, keep it",
    delete_done: "Done: your personal data has been erased.",
    delete_cancelled: "Nothing was erased.",
    delete_nothing: "There is nothing stored about you.",
    unknown_command: "I don't know that command. /help lists what I can do.",
    free_text: "I understand commands and buttons. Try /start to begin or /help to see \
                everything I can do.",
    unsupported_update: "I can't handle that kind of message yet. /help lists what I can do.",
    slow_down: "You're sending messages faster than I can keep up with. Please slow down and \
                try again in a minute.",
    button_no_longer_valid: "This button is no longer valid.",
    deep_link_unknown: "That link isn't valid (anymore). Here is the start instead:",
    customer_chosen: "Great, welcome! 🛒 /browse finds deals, /my_reservations shows your \
                      pickups, /favourites the shops you follow.",
    business_chosen: "Welcome! 🏪 Businesses post surplus food as deals for nearby customers. \
                      /help lists what you can do.",
    something_went_wrong: "Something went wrong on our side. Please try again in a moment.",
    private_chat_only_notice: "I work in private chats only: open me from my profile.",
    biz: BusinessTexts {
        registration_intro: "Let's register your business 🏪 It takes about a minute: one \
                             question at a time. /back goes to the previous question, /cancel \
                             stops.",
        ask_business_name: "What is your business called? For example: Bakery Ada",
        ask_street: "Street and house number? For example: Main Street 12",
        ask_city: "City? For example: Berlin",
        ask_postal_code: "Postal code? For example: 10115",
        ask_phone: "Phone number for customers (optional)? For example: +49 30 1234567 — or \
                    tap Skip.",
        ask_logo: "Send your logo as a photo (optional) — or tap Skip.",
        ask_location: "Last step: where is your shop? Tap “📍 Share location” (or attach a \
                       location pin) so that nearby customers find you.",
        share_location_button: "📍 Share location",
        skip_button: "Skip",
        registration_all_set: "Thanks, that's everything.",
        registration_cancelled: "Registration cancelled. Nothing was saved. \
                                 /register_business starts again.",
        submit_button: "✅ Submit for approval",
        edit_button: "✏️ Edit",
        cancel_button: "✖️ Cancel",
        back_button: "⬅️ Back",
        which_field: "Which field do you want to change?",
        draft_gone: "This draft has expired. Please start again.",
        duplicate_business: "⚠️ A business with this name and address is already registered. \
                             If it is yours, ask its owner for a staff invitation; otherwise \
                             correct the name or address with ✏️ Edit.",
        welcome_back_business: "Welcome back! 🏪 /newdeal posts a deal, /myoffers manages your \
                                deals, /register_business adds another business.",
        no_dialogue: "There is nothing to go back from or cancel right now.",
        approve_button: "✅ Approve",
        reject_button: "❌ Reject (with reason)",
        suspend_button: "⏸ Suspend",
        reinstate_button: "▶️ Reinstate",
        no_pending: "No applications are waiting. 🎉",
        retry_refund_button: "🔁 Retry the refund",
        refund_retried: "Refund requested again.",
        refund_not_failed: "This refund is not failed anymore.",
        ask_rejection_reason: "Why is it rejected? Your answer is sent to the business. \
                               For example: The address could not be verified. /cancel keeps \
                               the application pending.",
        rejection_cancelled: "Not rejected; the application is still pending.",
        already_decided: "This application was already decided.",
        post_deal_now_button: "➕ Post a deal now",
        newdeal_no_business: "Only registered businesses can post deals. Register yours with \
                              /register_business — an admin approves it, usually within a day.",
        newdeal_pending: "Your business is still waiting for approval. You'll get a message as \
                          soon as it is approved; then you can post deals.",
        newdeal_rejected: "Your business application was not approved. You can correct it and \
                           apply again with /register_business.",
        newdeal_suspended: "Your business is suspended, so it cannot post deals right now. \
                            Please contact the marketplace team.",
        not_your_business: "You don't manage this business.",
        which_business: "Which business is the deal for?",
        ask_category: "Let's post a deal! What kind of food is it?",
        ask_title: "A short title? For example: Surprise bag",
        ask_description: "Describe it in up to 200 characters. For example: Bread and pastries \
                          of the day",
        ask_photo: "Send a photo of the food (optional) — or tap Skip.",
        ask_units: "How many units (bags, boxes, portions) do you have? For example: 5",
        ask_units_edit: "How many units are still available? Existing reservations are kept. \
                         For example: 3 (0 marks it sold out)",
        deal_ready: "Almost done!",
        deal_cancelled: "Deal discarded. Nothing was published.",
        publish_button: "🚀 Publish",
        edit_field_button: "✏️ Edit field",
        view_as_customer_button: "👀 View as customer",
        share_link_button: "🔗 Share link",
        manage_button: "⚙️ Manage",
        pause_button: "⏸ Pause",
        resume_button: "▶️ Resume",
        end_now_button: "⏹ End now",
        end_confirm_button: "Yes, end it",
        end_keep_button: "No, keep it",
        no_offers: "You have no deals yet. /newdeal posts one.",
        not_your_offer: "That isn't one of your deals.",
        offer_already_ended: "This deal has ended; it can no longer be changed.",
        resume_suspended: "Your business is suspended; deals can be resumed once it is \
                           reinstated.",
        resume_without_units: "No units are left: set the units first (✏️ Edit).",
        window_ended: "The pickup window has ended.",
        edit_cancelled: "Nothing was changed.",
        staff_cannot_invite: "Only the owner of a business can invite staff.",
        staff_already_member: "You already manage deals of this business.",
        staff_invite_invalid: "This invitation is invalid, already used or expired. Please ask \
                               for a new one.",
        no_longer_staff: "That person is no longer staff of this business.",
        identity_change_sent: "📝 Sent for review: an admin checks a new name, address, \
                               location or logo before customers see it. Until then your \
                               listing keeps the approved details; you'll get a message when \
                               it is decided. (A new phone number applies at once.)",
        accept_change_button: "✅ Accept change",
        reject_change_button: "❌ Reject change (with reason)",
        ask_change_rejection_reason: "Why is the change rejected? Your answer is sent to the \
                                      business. For example: The new address could not be \
                                      verified. /cancel keeps the change pending.",
        change_rejection_cancelled: "Not rejected; the change is still pending.",
        change_already_decided: "This change was already decided.",
        change_accepted: "✅ Accepted: customers see the new details now.",
        change_rejected: "❌ Change rejected; the business was told why.",
        name_taken_by_live_business: "A business with this name and address is already \
                                      approved: reject this application, or suspend the other \
                                      business first.",
        application_expired_reason: "No admin decided within 14 days, so the application \
                                     expired.",
        remove_confirm_button: "Yes, remove",
        invite_revoked: "Link revoked: it no longer works.",
        invite_not_open: "This link was already used, revoked or has expired.",
    },
    cust: customer::EN,
};

/// The catalogue for a Telegram `language_code` (e.g. `en`, `de-AT`).
pub fn for_language(language_code: Option<&str>) -> &'static Catalog {
    let base = language_code.map(|c| c.split(['-', '_']).next().unwrap_or(c));
    CATALOGS
        .iter()
        .find(|(code, _)| Some(*code) == base)
        .map_or(&EN, |(_, catalog)| *catalog)
}

/// Translated catalogues by language code; further languages are added here.
static CATALOGS: &[(&str, &Catalog)] = &[("en", &EN)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_languages_fall_back_to_english() {
        assert!(std::ptr::eq(for_language(Some("xx-YY")), &EN));
        assert!(std::ptr::eq(for_language(None), &EN));
    }

    #[test]
    fn greeting_names_the_user_and_survives_an_empty_name() {
        assert!(EN.greeting("Ada").starts_with("Hi Ada!"));
        assert!(EN.greeting(" ").starts_with("Hi there!"));
    }

    #[test]
    fn every_text_fits_a_telegram_message() {
        for text in [EN.help, EN.privacy, EN.delete_confirm] {
            assert!(text.chars().count() <= 4096);
        }
    }

    #[test]
    fn refusals_name_the_field_and_give_an_example() {
        let text = EN.invalid(Invalid::new(Field::PostalCode, Problem::Format));
        assert_eq!(
            text,
            "⚠️ Postal code: is not in a form I understand.\nFor example: 10115"
        );
        let text = EN.invalid(Invalid::new(Field::PickupWindow, Problem::TooFarAhead));
        assert!(text.starts_with("⚠️ Pickup window: may end at most 48 hours"));
    }

    #[test]
    fn categories_are_recognised_by_label_or_name() {
        for category in Category::ALL {
            assert_eq!(
                EN.parse_category(EN.category_label(category)),
                Some(category)
            );
        }
        assert_eq!(EN.parse_category("bakery"), Some(Category::Bakery));
        assert_eq!(EN.parse_category("cake"), None);
    }
}
