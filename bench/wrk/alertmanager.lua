-- wrk script: POSTs Alertmanager webhook notifications (version 4) with ALERTS alerts each.
-- Every request carries new fingerprints, so receivers store new rows (no dedup shortcut).
-- Environment: ALERTS (alerts per notification, default 1), AUTH (Authorization header value).
local alerts_per = tonumber(os.getenv("ALERTS") or "1")
local auth = os.getenv("AUTH")
local next_id = 0
local counter = 0

local alert_tmpl = '{"status":"firing","labels":{"alertname":"NginxDown","instance":"127.0.0.1:9113",' ..
  '"job":"nginx","remediation":"heal-nginx","service":"nginx","severity":"critical","stack":"demo",' ..
  '"seq":"%s"},"annotations":{"description":"nginx_up or the exporter target has been 0 for 0s.",' ..
  '"summary":"nginx is down on 127.0.0.1:9113"},"startsAt":"2026-11-22T01:25:10.341Z",' ..
  '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://vm:9090/graph?g0.expr=nginx_up","fingerprint":"%s"}'
local notif_tmpl = '{"receiver":"heal-webhook","status":"firing","alerts":[%s],' ..
  '"groupLabels":{"alertname":"NginxDown"},"commonLabels":{"alertname":"NginxDown"},' ..
  '"commonAnnotations":{},"externalURL":"http://vm:9093","version":"4",' ..
  '"groupKey":"{}:{alertname=\\"NginxDown\\"}","truncatedAlerts":0}'

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function request()
  counter = counter + 1
  local parts = {}
  for i = 1, alerts_per do
    local fp = string.format("%02x%08x%04x", tid, counter, i)
    parts[i] = string.format(alert_tmpl, fp, fp)
  end
  local headers = { ["Content-Type"] = "application/json" }
  if auth then headers["Authorization"] = auth end
  return wrk.format("POST", nil, headers, string.format(notif_tmpl, table.concat(parts, ",")))
end
