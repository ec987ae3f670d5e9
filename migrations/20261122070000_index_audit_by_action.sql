-- Failed-login throttling counts recent `auth.login_failed` entries by name and by address.
CREATE INDEX audit_events_action_at ON audit_events (action, at);
