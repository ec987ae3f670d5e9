//! The API tokens section of `/admin`: create one with a role (its text is shown once), revoke.
use crate::components::load::load;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::users::{list_api_tokens, CreateApiToken, RevokeApiToken};
use crate::components::time::RelTime;
use crate::model::Role;

/// Tokens: the create form, the token just made, and the list with revoke buttons.
#[component]
pub fn ApiTokens() -> impl IntoView {
    let create = ServerAction::<CreateApiToken>::new();
    let tokens = load(move || create.version().get(), |_| list_api_tokens());
    view! {
        <h2>"API tokens"</h2>
        <p class="muted">"For scripts and CI: send "<code>"Authorization: Bearer <token>"</code>" to the "<code>"/api/"</code>" endpoints. A token acts with its role; every action it takes is audited as "<code>"token:<name>"</code>"."</p>
        <ActionForm action=create attr:class="inline-form" attr:data-testid="token-form">
            <label>"Name "<input type="text" name="name" required maxlength="64" placeholder="ci-deploys"/></label>
            <label>"Role "
                <select name="role">
                    {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit" class="btn">"Create token"</button>
        </ActionForm>
        {move || create.value().get().map(|result| match result {
            Ok(made) => view! {
                <p class="notice" data-testid="new-token">
                    "Token "<strong>{made.name}</strong>" ("{made.role.as_str()}"): "<code>{made.token}</code>
                    " — copy it now: it is not stored and will not be shown again."
                </p>
            }.into_any(),
            Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
        })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"No API tokens yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="table" data-testid="tokens-table">
                            <thead><tr><th>"Name"</th><th>"Role"</th><th>"Created"</th><th>"Last used"</th><th>"State"</th><th></th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|t| {
                                    let revoked = t.revoked_at.is_some();
                                    view! {
                                        <tr>
                                            <td>{t.name}</td>
                                            <td><span class=format!("role role-{}", t.role)>{t.role.as_str()}</span></td>
                                            <td><RelTime at=t.created_at/>{format!(" by {}", t.created_by)}</td>
                                            <td>{match t.last_used_at { Some(at) => view! { <RelTime at=at/> }.into_any(), None => "never".into_any() }}</td>
                                            <td>{if revoked { "revoked" } else { "active" }}</td>
                                            <td>
                                                <Show when=move || !revoked>
                                                    // A plain form: the page comes back with the
                                                    // token revoked; no wasm for the action.
                                                    <form method="post" action=RevokeApiToken::PATH class="inline-form">
                                                        <input type="hidden" name="id" value=t.id/>
                                                        <button type="submit" class="btn btn-danger">"Revoke"</button>
                                                    </form>
                                                </Show>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
