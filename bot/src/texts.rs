//! Every user-facing string, in one catalogue per language. English is complete; other
//! languages fall back to it until they are translated.

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
    pub deep_link_offer_unavailable: &'static str,
    pub customer_chosen: &'static str,
    pub business_chosen: &'static str,
    pub something_went_wrong: &'static str,
}

impl Catalog {
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
           Customers find nearby deals, reserve, and pick up in the shop's pickup window. \
           Businesses post deals in under two minutes.",
    privacy: "What the bot stores about you:\n\
              • your Telegram id, first and last name, username and language, and when you first \
              and last wrote to the bot;\n\
              • the messages you send to the bot, for up to the retention period, so that none is \
              lost if the service restarts;\n\
              • answers of an unfinished dialogue, until you finish or cancel it.\n\n\
              Nothing is shared with third parties. /delete_my_data erases your personal data; \
              writing to the bot again afterwards records your name anew.",
    delete_confirm: "Erase your personal data? Your name, username and language are removed, \
                     unfinished dialogues and pending notifications are dropped. This cannot be \
                     undone.",
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
    deep_link_offer_unavailable: "That deal is not available anymore. Here is the start instead:",
    customer_chosen: "Great, welcome! 🛒 Deals near you will show up here. /help lists what you \
                      can do.",
    business_chosen: "Welcome! 🏪 Businesses post surplus food as deals for nearby customers. \
                      /help lists what you can do.",
    something_went_wrong: "Something went wrong on our side. Please try again in a moment.",
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
}
