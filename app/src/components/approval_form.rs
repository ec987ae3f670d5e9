//! Approve or reject a run awaiting approval, with an optional comment (operators; the server
//! checks the role again and audits the decision with the comment).
use leptos::prelude::*;

use crate::api::heal::ApproveRun;

/// The comment field and the two buttons for one run.
#[component]
pub fn ApprovalForm(run_id: i64, approve: ServerAction<ApproveRun>) -> impl IntoView {
    view! {
        <ActionForm action=approve attr:class="approval-form">
            <input type="hidden" name="run_id" value=run_id.to_string()/>
            <input type="text" name="comment" placeholder="comment (optional)" aria-label="comment" maxlength="500"/>
            <button type="submit" name="approve" value="true" class="btn btn-primary btn-small" data-testid="approve">"Approve"</button>
            <button type="submit" name="approve" value="false" class="btn btn-small btn-danger" data-testid="reject">"Reject"</button>
        </ActionForm>
    }
}
