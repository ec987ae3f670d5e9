//! `/admin`: users (add, change role, disable or enable, reset a password) and API tokens
//! (admin only; the server refuses everyone else and guards against locking admins out).
use crate::components::load::load;
use leptos::prelude::*;
use leptos_meta::Title;

use leptos::server_fn::ServerFn;

use crate::api::users::{list_users, AddUser, ResetPassword, SetUserDisabled, SetUserRole};
use crate::components::shell::UserResource;
use crate::components::time::RelTime;
use crate::error::AppError;
use crate::model::{IssuedPassword, Role, UserSource, UserSummary};
use crate::pages::admin_tokens::ApiTokens;

/// The users section, then the API tokens.
#[component]
pub fn AdminPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let acts = UserActions { reset };
    let users = load(move || (add.version().get(), reset.version().get()), |_| list_users());
    let me = use_context::<UserResource>();
    view! {
        <Title text="Admin"/>
        <h1>"Users"</h1>
        <AddUserForm add/>
        <Issued result=Signal::derive(move || add.value().get())/>
        <Issued result=Signal::derive(move || reset.value().get())/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                // Awaited, not peeked: the server and the browser then mark the same row as yours.
                let my_id = match me {
                    Some(me) => me.await.ok().flatten().map(|u| u.id),
                    None => None,
                };
                match users.await {
                    Err(e) => view! { <p class="error" data-testid="admin-error">{e.to_string()}</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="table" data-testid="users-table">
                            <thead><tr><th>"User"</th><th>"Role"</th><th>"Signs in with"</th><th>"State"</th><th>"Last sign-in"</th><th>"Created"</th><th>"Actions"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|u| {
                                    let is_me = my_id == Some(u.id);
                                    view! { <UserRow u is_me acts/> }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
        <p class="muted">"From a terminal on the server: "<code>"selfheal user add NAME --role viewer|operator|admin"</code>
            ", "<code>"selfheal user passwd NAME"</code>"."</p>
        <ApiTokens/>
    }
}

/// The row actions, shared by every row. Setting a role and disabling are plain forms: the page
/// comes back with the list as it is now, or with the refusal above it.
#[derive(Clone, Copy)]
struct UserActions {
    reset: ServerAction<ResetPassword>,
}

/// Name, role and a password left empty to have one generated.
#[component]
fn AddUserForm(add: ServerAction<AddUser>) -> impl IntoView {
    view! {
        <ActionForm action=add attr:class="inline-form" attr:data-testid="add-user-form">
            <label>"User name "<input type="text" name="username" required maxlength="64" placeholder="vera" autocomplete="off"/></label>
            <label>"Role "<RoleSelect current=Role::Viewer/></label>
            <label>"Password "<input type="password" name="password" placeholder="empty: generate one" autocomplete="new-password"/></label>
            <button type="submit" class="btn btn-primary">"Add user"</button>
        </ActionForm>
    }
}

#[component]
fn RoleSelect(current: Role) -> impl IntoView {
    view! {
        <select name="role">
            {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == current>{r.as_str()}</option> }).collect_view()}
        </select>
    }
}

/// The outcome of an add or a reset: a generated password, shown this once; or the error.
#[component]
fn Issued(result: Signal<Option<Result<IssuedPassword, AppError>>>) -> impl IntoView {
    move || {
        result.get().map(|r| match r {
            Ok(IssuedPassword { username, password: Some(password), .. }) => view! {
                <p class="notice" data-testid="issued-password">
                    "Password of "<strong>{username}</strong>": "<code>{password}</code>
                    " — hand it over now: it is not stored and will not be shown again."
                </p>
            }
            .into_any(),
            Ok(IssuedPassword { username, role, password: None }) => {
                view! { <p class="notice" data-testid="issued-password">{format!("Added {username} ({role}).")}</p> }
                    .into_any()
            }
            Err(e) => view! { <p class="error" data-testid="user-error">{e.to_string()}</p> }.into_any(),
        })
    }
}

/// One user with their actions (none on your own row but the role change, which the server
/// refuses when it would demote you).
#[component]
fn UserRow(u: UserSummary, is_me: bool, acts: UserActions) -> impl IntoView {
    let UserActions { reset } = acts;
    let name = u.username.clone();
    let (name2, name3) = (name.clone(), name.clone());
    // A directory user's role and password are the directory's: only enabling and disabling
    // are selfheal's to do.
    let local = u.source == UserSource::Local;
    let groups = u.role_groups.clone().filter(|g| !g.is_empty()).map(|g| g.replace('\n', ", "));
    let state = match (u.disabled, u.disabled_by_directory) {
        (false, _) => "active",
        (true, false) => "disabled",
        (true, true) => "no role in the directory",
    };
    view! {
        <tr data-testid="user-row">
            <td>{u.username.clone()}{is_me.then_some(" (you)")}</td>
            <td>
                <span class=format!("role role-{}", u.role)>{u.role.as_str()}</span>
                {groups.map(|g| view! { <div class="muted role-groups" data-testid="role-groups">"from " {g}</div> })}
            </td>
            <td data-testid="user-source">{u.source.label()}</td>
            <td><span class:badge=u.disabled class:tone-bad=u.disabled>{state}</span></td>
            <td>{u.last_login_at.clone().map(|at| view! { <RelTime at=at/> })}</td>
            <td><RelTime at=u.created_at.clone()/></td>
            <td><div class="row-actions">
                {local.then(|| view! {
                    <form method="post" action=SetUserRole::PATH class="inline-form">
                        <input type="hidden" name="username" value=name/>
                        <RoleSelect current=u.role/>
                        <button type="submit" class="btn btn-small">"Set role"</button>
                    </form>
                })}
                {(!is_me).then(|| view! {
                    <form method="post" action=SetUserDisabled::PATH class="inline-form">
                        <input type="hidden" name="username" value=name2/>
                        <input type="hidden" name="disabled" value=(!u.disabled).to_string()/>
                        <button type="submit" class=if u.disabled { "btn btn-small" } else { "btn btn-small btn-danger" }
                            data-testid="toggle-disabled">{if u.disabled { "Enable" } else { "Disable" }}</button>
                    </form>
                    {local.then(|| view! {
                        <ActionForm action=reset>
                            <input type="hidden" name="username" value=name3/>
                            <button type="submit" class="btn btn-small" data-testid="reset-password">"Reset password"</button>
                        </ActionForm>
                    })}
                })}
            </div></td>
        </tr>
    }
}
