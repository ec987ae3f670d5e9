//! `/admin`: users and API tokens (admin only; the server refuses everyone else).
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::users::list_users;
use crate::pages::admin_tokens::ApiTokens;

/// The user list.
#[component]
pub fn AdminPage() -> impl IntoView {
    let users = Resource::new(|| (), |_| list_users());
    view! {
        <Title text="Admin"/>
        <h1>"Users"</h1>
        <p class="muted">"Add users with "<code>"selfheal user add NAME --role viewer|operator|admin"</code>"."</p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Err(e) => view! { <p class="error" data-testid="admin-error">{e.to_string()}</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="table" data-testid="users-table">
                            <thead><tr><th>"User"</th><th>"Role"</th><th>"State"</th><th>"Created (UTC)"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|u| view! {
                                    <tr>
                                        <td>{u.username}</td>
                                        <td><span class=format!("role role-{}", u.role)>{u.role.as_str()}</span></td>
                                        <td>{if u.disabled { "disabled" } else { "active" }}</td>
                                        <td>{u.created_at.replace('T', " ")}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
        <ApiTokens/>
    }
}
