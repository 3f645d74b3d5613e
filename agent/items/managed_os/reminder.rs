//! Telling the person at the Mac about an update before it is forced on them:
//! the reminder on an Intel Mac ("Update Now" / "Later"), and on Apple silicon
//! the notice that asks them to install it themselves ("Open Software Update" /
//! "Later"). "Later" is the default of both, so a notice nobody answers changes
//! nothing; it is recorded as `no_answer`, not counted.

use chrono::Utc;

use super::messages::{self, Why};
use super::notices::{self, Choice};
use super::pending::{self, Recorded};
use super::{Subject, install, person_at_the_mac};
use crate::items::{ItemContext, ItemReport};
use crate::person::{Answer, Notice, PersonAtTheMac};
use crate::tool_runner::Transcript;

/// Shows the reminder and does what the person chose: install now, or put it off.
pub(super) async fn remind(
    subject: &Subject<'_>,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let Subject { settings, candidate, .. } = subject;
    let environment = context.environment.clone();
    let Some(person) = person_at_the_mac(context, &environment) else {
        return Ok(messages::found(&super::Finding::Pending(candidate.clone()), subject.installed, settings));
    };
    let user = person.user.name.clone();
    let deadline = settings.deadline.map(|deadline| notices::local_time(deadline, &chrono::Local)).unwrap_or_default();
    let message = notices::reminder_message(&candidate.update.title, &deadline, context.config.notices.interval);
    let notice = Notice {
        title: notices::REMINDER_TITLE,
        message: &message,
        buttons: &[notices::UPDATE_NOW, notices::LATER],
        default_button: notices::LATER,
        timeout: context.config.notices.answer_timeout,
    };
    (context.on_phase)("notice");
    let answer = match person.notify(&notice, transcript).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(item_id = %context.item_id, user = %user, error = %error, "Could not show the reminder.");
            return Ok(messages::not_reminded(&user, &error.to_string(), candidate, settings));
        }
    };
    let shown_at = Utc::now();
    let next = shown_at + chrono::Duration::from_std(context.config.notices.interval).unwrap_or_default();
    let mut work = subject.work.clone();
    work.notice_shown_at = Some(shown_at);
    match notices::choice(clicked(&answer)) {
        Choice::Act => {
            pending::save(context, work, format!("{user} chose Update Now"));
            install(subject, &Why::PersonChose { user }, context, transcript).await
        }
        Choice::Later => {
            work.deferrals_used += 1;
            let used = work.deferrals_used;
            let reason = format!("chose Later on the reminder about {}", candidate.update.title);
            pending::record(context, shown_at, &user, Recorded::Later, reason);
            pending::save(context, work, format!("deferred by {user} ({used} of {})", settings.max_deferrals));
            Ok(messages::later(&user, used, candidate, settings, next))
        }
        Choice::NoAnswer => {
            let used = work.deferrals_used;
            let reason = format!("did not answer the reminder about {}", candidate.update.title);
            pending::record(context, shown_at, &user, Recorded::NoAnswer, reason);
            pending::save(context, work, format!("reminded {user}, no answer"));
            Ok(messages::no_answer(&user, used, candidate, settings, next))
        }
    }
}

/// The person asked for the update in Self Service (Update Now on the page, or
/// `agent self-service update`): on Intel it is installed at once, no notice and
/// no countdown (they asked); on Apple silicon Software Update is opened for the
/// person at the Mac when it is they who asked, and the item waits for them.
pub(super) async fn asked_in_self_service(
    subject: &Subject<'_>,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let user = context.requested_by.unwrap_or_default().to_string();
    tracing::info!(item_id = %context.item_id, user = %user, "The person chose Update Now in Self Service.");
    if !subject.apple_silicon {
        pending::save(context, subject.work.clone(), format!("{user} chose Update Now"));
        return install(subject, &Why::PersonChose { user }, context, transcript).await;
    }
    let environment = context.environment.clone();
    let person = person_at_the_mac(context, &environment).filter(|person| person.user.name == user);
    let what = match person {
        None => format!("{user} asked in Self Service, but is not the person logged in at the Mac's screen"),
        Some(person) => match person.open(notices::SOFTWARE_UPDATE_URL, transcript).await {
            Ok(()) => format!("{user} asked in Self Service, and Software Update was opened for them"),
            Err(error) => format!("{user} asked in Self Service, but Software Update did not open: {error}"),
        },
    };
    pending::save(context, subject.work.clone(), "waiting for the person to install it".to_string());
    Ok(messages::needs_the_person(&subject.candidate, subject.settings, &what))
}

/// Apple silicon: asks the person (when `notify`) to install the update in
/// Software Update, opening it for them when they choose to; the item waits for them.
pub(super) async fn ask_the_person(
    subject: &Subject<'_>,
    notify: bool,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let environment = context.environment.clone();
    let person = person_at_the_mac(context, &environment);
    let mut work = subject.work.clone();
    let what = match &person {
        None => "nobody is logged in".to_string(),
        Some(person) if !notify => {
            let shown = work.notice_shown_at.map(messages::format_time).unwrap_or_default();
            format!("{} was last asked at {shown}", person.user.name)
        }
        Some(person) => {
            (context.on_phase)("notice");
            ask(person, subject, &mut work, context, transcript).await
        }
    };
    pending::save(context, work, "waiting for the person to install it".to_string());
    Ok(messages::needs_the_person(&subject.candidate, subject.settings, &what))
}

/// Shows the Apple silicon notice to `person` and does what they chose; says what happened.
async fn ask(
    person: &PersonAtTheMac<'_>,
    subject: &Subject<'_>,
    work: &mut crate::state::PendingWork,
    context: &ItemContext<'_>,
    transcript: &mut Transcript,
) -> String {
    let Subject { settings, candidate, .. } = subject;
    let user = person.user.name.as_str();
    let deadline = settings.deadline.map(|deadline| notices::local_time(deadline, &chrono::Local));
    let passed = settings.deadline.is_some_and(|deadline| Utc::now() >= deadline);
    let message = notices::apple_silicon_message(&candidate.update.title, deadline.as_deref(), passed);
    let notice = Notice {
        title: notices::REMINDER_TITLE,
        message: &message,
        buttons: &[notices::OPEN_SOFTWARE_UPDATE, notices::LATER],
        default_button: notices::LATER,
        timeout: context.config.notices.answer_timeout,
    };
    let answer = match person.notify(&notice, transcript).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(item_id = %context.item_id, user = %user, error = %error, "Could not show the notice.");
            return format!("cannot ask {user}: {error}");
        }
    };
    let shown_at = Utc::now();
    work.notice_shown_at = Some(shown_at);
    match notices::choice(clicked(&answer)) {
        Choice::Act => match person.open(notices::SOFTWARE_UPDATE_URL, transcript).await {
            Ok(()) => {
                tracing::info!(item_id = %context.item_id, user = %user, "Opened Software Update for the person.");
                format!("{user} chose Open Software Update, and it was opened for them")
            }
            Err(error) => format!("{user} chose Open Software Update, but it did not open: {error}"),
        },
        Choice::Later => {
            work.deferrals_used += 1;
            let reason = format!("chose Later on the notice about {}", candidate.update.title);
            pending::record(context, shown_at, user, Recorded::Later, reason);
            format!("{user} chose Later ({} of {})", work.deferrals_used, settings.max_deferrals)
        }
        Choice::NoAnswer => {
            let reason = format!("did not answer the notice about {}", candidate.update.title);
            pending::record(context, shown_at, user, Recorded::NoAnswer, reason);
            format!("{user} did not answer")
        }
    }
}

/// The button clicked, `None` when the notice gave up.
pub(super) fn clicked(answer: &Answer) -> Option<&str> {
    match answer {
        Answer::Clicked(button) => Some(button),
        Answer::NoAnswer => None,
    }
}
