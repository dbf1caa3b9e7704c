# English: the fallback for every language. Message ids are shared by all languages.

## Messages without variables.

role-customer = 🛒 I'm a customer
role-business = 🏪 I'm a business
help =
    Too Good To Go helps shops and restaurants sell surplus food at a discount instead of throwing it away.

    Commands:
    /start – choose whether you rescue food or offer it
    /help – this message
    /privacy – what the bot stores about you
    /delete_my_data – erase your personal data

    For customers:
    /browse – deals nearby, all deals, ending soon
    /my_reservations – your pickups and codes
    /favourites – shops you follow
    /settings – alerts, quiet hours, radius, language

    For businesses:
    /register_business – offer surplus food as a business
    /newdeal – post a deal
    /myoffers – pause, edit or end your deals
    /pickup – confirm a pickup with the customer's code
    /invite_staff – let staff manage your deals
    /staff – your staff and open invitation links (owners)

    Roles: staff post and manage deals and confirm pickups; only the owner refunds, ends a deal with paid reservations, edits the business and invites or removes staff.

    Customers find nearby deals, reserve, and pick up in the shop's pickup window. Businesses post deals in under two minutes.
privacy =
    What the bot stores about you:
    • your Telegram id, first and last name, username and language, and when you first and last wrote to the bot;
    • the messages you send to the bot, for 7 days, so that none is lost if the service restarts;
    • answers of an unfinished dialogue, until you finish or cancel it;
    • the location you share for nearby deals, your /settings and favourite shops;
    • your reservations and ratings, which the shops need for pickups and payments (your name is shown to the shop with a reservation);
    • if you own or work for a business: the business's details and who acts for it.

    Payments go through Telegram and Stripe; the bot stores only the charge ids and amounts. Nothing else is shared with third parties.

    /delete_my_data erases your name, username, language, saved location, settings, favourites, rating comments and unfinished dialogues; drops messages waiting to be sent to you; replaces your name in messages to shops with “(customer erased their data)”, as their reservation lists show it; ends your staff memberships; and clears the details of the log entries about your settings, location, favourites and ratings.

    What stays, and for how long:
    • your Telegram id, without a name, so that the records below stay consistent (writing to the bot again records your name anew);
    • reservations, payments, refunds and star ratings, without your name: they are the bookkeeping of orders and stay;
    • businesses you own, with their name, address, phone and logo: they are the business's records, not yours, and stay until the business is closed;
    • log entries of what happened when (without the details above) for 90 days; those about orders and money keep their states and amounts;
    • the messages you sent and were sent in the last 7 days, until they are deleted after 7 days.
delete-confirm = Erase your personal data? Your name, username, language, saved location, settings, favourites and rating comments are removed, unfinished dialogues and pending notifications are dropped, your name is removed from messages to shops and your staff memberships end. Reservations, payments and businesses you own stay as records (see /privacy). This cannot be undone.
delete-confirm-yes = Yes, erase my data
delete-confirm-no = No, keep it
delete-done = Done: your personal data has been erased.
delete-cancelled = Nothing was erased.
delete-nothing = There is nothing stored about you.
unknown-command = I don't know that command. /help lists what I can do.
free-text = I understand commands and buttons. Try /start to begin or /help to see everything I can do.
unsupported-update = I can't handle that kind of message yet. /help lists what I can do.
slow-down = You're sending messages faster than I can keep up with. Please slow down and try again in a minute.
button-no-longer-valid = This button is no longer valid.
deep-link-unknown = That link isn't valid (anymore). Here is the start instead:
customer-chosen = Great, welcome! 🛒 /browse finds deals, /my_reservations shows your pickups, /favourites the shops you follow.
business-chosen = Welcome! 🏪 Businesses post surplus food as deals for nearby customers. /help lists what you can do.
something-went-wrong = Something went wrong on our side. Please try again in a moment.
private-chat-only-notice = I work in private chats only: open me from my profile.

## Formats: chrono strftime patterns with this language's day and month names.

# The POSIX locale whose day and month names and number separators are used.
locale = en_GB
# This language's name in itself, as the language setting shows it.
language-name = English
format-time = %H:%M
format-weekday-date = %a %-d %b
format-day-month = %-d %b
format-date-time = %-d %b %Y, %H:%M
# An amount of money: $amount is already formatted, $currency is the ISO code (EUR).
money = { $currency } { $amount }

## Commands in Telegram's menu (at most 256 characters each).

command-browse = Find deals near you
command-my-reservations = Your reservations and pickup codes
command-favourites = Shops you follow
command-settings = Alerts, quiet hours, radius, language and your businesses
command-start = Choose whether you rescue food or offer it
command-help = What this bot can do
command-privacy = What the bot stores about you
command-delete-my-data = Erase your personal data
command-register-business = Offer surplus food as a business
command-newdeal = Post a deal
command-myoffers = Pause, edit or end your deals
command-pickup = Confirm a pickup with the customer's code
command-invite-staff = Let staff manage your deals
command-staff = Your staff and open invitation links
command-pending = Applications waiting for approval

## Fields of the dialogues, and what is wrong with an answer.

field-business-name = Business name
field-street = Street and number
field-city = City
field-postal-code = Postal code
field-phone = Phone
field-logo = Logo
field-location = Location
field-category = Category
field-title = Title
field-description = Description
field-photo = Photo
field-pickup-window = Pickup window
field-units = Units
field-price = Price per unit
field-original-value = Original value
field-rejection-reason = Reason
example-business-name = Bakery Ada
example-street = Main Street 12
example-city = Berlin
example-postal-code = 10115
example-phone = +49 30 1234567
example-logo = send a photo, or tap Skip
example-location = tap “📍 Share location” or attach a location pin
example-category = Bakery
example-title = Surprise bag
example-description = Bread and pastries of the day
example-photo = send a photo, or tap Skip
example-pickup-window = today 18:00-20:00
example-units = 5
example-price = 4.50
example-original-value = 12.00
example-rejection-reason = The address could not be verified
problem-length = must be { $min } to { $max } characters long
problem-format-street = needs the street name and the house number
problem-format-pickup-window = must be a day and a time range (today, tomorrow or a date like 30.11.)
problem-format-units = must be a whole number
problem-format-amount = must be an amount like 4 or 4.50
problem-format-category = must be one of the buttons below
problem-format = is not in a form I understand
problem-not-positive = must be more than zero
problem-not-below-original = the price must be lower than the original value
problem-ends-before-start = must end after it starts
problem-already-ended = has already ended; pick a time in the future
problem-too-far-ahead = may end at most 48 hours from now
problem-too-large = is larger than allowed
problem-outside-invoice-limits = must be between { $min } and { $max } to be paid in the chat (Telegram's limits); to sell for less, take payment at the counter too in /settings
invalid =
    ⚠️ { $field }: { $problem }.
    For example: { $example }

## Categories: the label is a button; the word after the emoji may also be typed.

category-ready-meals = 🍱 Ready-to-eat meals
category-bakery = 🥐 Bakery
category-produce = 🥕 Fruits & veggies
category-groceries = 🛒 Groceries
category-other = 📦 Other

## Registration and admin review.

value-none = none
value-yes = yes
registration-summary =
    Please check your business:

    Name: { $name }
    Address: { $street }, { $postcode } { $city }
    Phone: { $phone }
    Logo: { $logo }
    Location: { $location }

    Submit it for approval? An admin checks every business before it can post deals.
submitted = ✅ { $name } was submitted for approval. You'll get a message here as soon as an admin has looked at it.
business-facts =
    { $name } (#{ $id })
    { $street }, { $postcode } { $city }
    Phone: { $phone }
    Location: { $location }
new-application =
    🆕 New business application:

    { $facts }
match-approved = approved
match-suspended = suspended
match-pending = also waiting for approval
match-rejected = rejected
same-name-and-address =
    ⚠️ Same name and address as:
    { $others }

    Compare them: only one can be approved.
submitted-for-comparison = ✅ { $name } was submitted for approval. It is under review: an admin checks it together with another business of the same name and address. You'll get a message here as soon as they have decided.
application-expiring = ⏳ Your application for { $name } has waited 13 days for an admin. If it is not decided by tomorrow it expires; you can then apply again with /register_business.
private-chat-only = 👋 I work in private chats only, so that reservations and pickup codes stay personal. Talk to me here: { $link }
payments-attention-heading = 💳 Payments needing attention: { $count }
payer-unknown = unknown
order-number = order #{ $id }
no-order = no order
refund-failed-with-error = refund FAILED: { $error }
refund-failed-state = refund FAILED
refund-state = refund { $status }
no-refund = no refund
payment-needing-attention =
    Payment { $id }: { $total } from { $payer }, { $order }
    charge { $charge }
    { $state }
application =
    Waiting for approval:

    { $facts }
decision-approved = ✅ Approved
decision-rejected = ❌ Rejected
decision-suspended = ⏸ Suspended (its deals are paused)
decision-pending = Pending
decision-done = { $outcome }: { $facts }
decision-reinstated = ✅ { $name } is active again. Your deals stay paused until you resume them in /myoffers.
decision-approved-notice = 🎉 { $name } was approved! You can post your first deal now (or any time with /newdeal).
decision-rejected-notice =
    Sorry, { $name } was not approved.
    Reason: { $reason }

    You can correct it and apply again with /register_business.
decision-suspended-notice = ⏸ { $name } was suspended by an admin. Its deals are paused and hidden from customers until it is reinstated.
decision-pending-notice = { $name } is waiting for approval.

## Deals.

ask-window =
    When can customers pick up? Send the day and the time range ({ $timezone } time), e.g.
    • today 18:00-20:00
    • tomorrow 8:00-10:30
    • 30.11. 17:00-19:00
    It must end within the next 48 hours.
ask-price = Price per unit in { $currency }? For example: 4.50
ask-original = What is it normally worth in { $currency }? (“worth { $currency } 12, yours for { $currency } 4”) For example: 12.00 — or tap Skip.
deal-preview =
    This is how customers will see your deal:

    { $card }
published =
    ✅ Your deal is live!

    { $card }
customer-view =
    👀 As customers see it:

    { $card }
share =
    Share “{ $title }” with this link:
    { $link }
end-no-reservations = It has no open reservations.
end-cancels = Its { $live } open reservation(s) are cancelled and the customers told.
end-cancels-and-refunds = Its { $live } open reservation(s) are cancelled and the customers told; the { $paid } paid one(s) are refunded in full.
end-confirm = End “{ $title }” now? Customers can no longer reserve it. { $reservations } This cannot be undone.
window-locked = ⚠️ { $live } customer(s) reserved for the current pickup window, so it can only be widened (start earlier or end later), not moved or shortened. To stop the deal, end it: open reservations are then cancelled and paid ones refunded.
which-offer-field = What do you want to change in “{ $title }”?
offer-updated =
    ✅ Updated.

    { $card }
not-in-state = Not possible: this deal is { $state }.
offer-state-live = live
offer-state-paused = paused
offer-state-sold-out = sold out
offer-state-expired = over (pickup window ended)
offer-state-ended = ended
state-changed-live = ▶️ Live again
state-changed-paused = ⏸ Paused
state-changed-sold-out = Sold out
state-changed-ended = ⏹ Ended
card-state-live = 🟢 Live
card-state-paused = ⏸ Paused
card-state-sold-out = 🔴 Sold out
card-state-expired = ⚪️ Expired
card-state-ended-early = ⚪️ Ended early
card-price-with-original = worth { $original }, yours for { $price }
card-pickup-today = Pickup today { $from }–{ $to }
card-pickup-tomorrow = Pickup tomorrow { $from }–{ $to }
card-pickup-on = Pickup { $date } { $from }–{ $to }
card-units = { $units } left
expired-summary =
    ⏹ The pickup window of “{ $title }” has ended.
    Reserved: { $reserved } · picked up: { $picked_up } · left unreserved: { $left }.
    Post the next deal with /newdeal.

## Staff.

staff-invite =
    Send this link to the person who should manage deals of { $business }. It works once and for { $hours } hours:
    { $link }
staff-joined = 👋 You now manage deals of { $business }: /newdeal posts one, /myoffers lists them.
staff-joined-owner-notice = { $who } joined { $business } as staff.

## Start.

greeting-anonymous = there
greeting =
    Hi { $name }! 🥐 Too Good To Go rescues surplus food: shops and restaurants post discounted deals, you reserve and pick them up before closing.

    Are you here to rescue food, or to offer it?
