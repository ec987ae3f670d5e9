-- A user who signed in with OpenID Connect: the refresh token the provider gave at their last
-- sign-in (scope offline_access), with which their groups are read again every role_refresh
-- without them. NULL: the provider gave none, and their sessions end at the next refresh.
ALTER TABLE users ADD COLUMN oidc_refresh_token TEXT;
