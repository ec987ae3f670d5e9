-- wrk script: POSTs Alertmanager webhook notifications (version 4) with ALERTS alerts each.
-- Every request carries new alerts, as Alertmanager would send them: a random 64-bit fingerprint
-- (Alertmanager's is a hash of the labels) and startsAt = now, so receivers store new rows (no
-- dedup shortcut) and no index gets the easy case of keys that only ever grow.
-- Environment: ALERTS (alerts per notification, default 1), AUTH (Authorization header value).
local alerts_per = tonumber(os.getenv("ALERTS") or "1")
local auth = os.getenv("AUTH")
local next_id = 0
local counter = 0

local alert_tmpl = '{"status":"firing","labels":{"alertname":"NginxDown","instance":"127.0.0.1:9113",' ..
  '"job":"nginx","remediation":"heal-nginx","service":"nginx","severity":"critical","stack":"demo",' ..
  '"seq":"%s"},"annotations":{"description":"nginx_up or the exporter target has been 0 for 0s.",' ..
  '"summary":"nginx is down on 127.0.0.1:9113"},"startsAt":"%s",' ..
  '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://vm:9090/graph?g0.expr=nginx_up","fingerprint":"%s"}'
local notif_tmpl = '{"receiver":"heal-webhook","status":"firing","alerts":[%s],' ..
  '"groupLabels":{"alertname":"NginxDown"},"commonLabels":{"alertname":"NginxDown"},' ..
  '"commonAnnotations":{},"externalURL":"http://vm:9093","version":"4",' ..
  '"groupKey":"{}:{alertname=\\"NginxDown\\"}","truncatedAlerts":0}'

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

-- SEED sets two wrk processes started in the same second apart (bench/intake.sh --postgres
-- loads two replicas at once): with one seed they sent the same notifications to both.
function init(args)
  math.randomseed(os.time() * 1000 + tid + 1000003 * tonumber(os.getenv("SEED") or "0"))
end

local function fingerprint()
  return string.format("%08x%08x", math.random(0, 0x7fffffff) * 2 + math.random(0, 1),
    math.random(0, 0x7fffffff) * 2 + math.random(0, 1))
end

function request()
  counter = counter + 1
  local parts = {}
  local now = os.date("!%Y-%m-%dT%H:%M:%S") .. string.format(".%03dZ", counter % 1000)
  for i = 1, alerts_per do
    local fp = fingerprint()
    parts[i] = string.format(alert_tmpl, fp, now, fp)
  end
  local headers = { ["Content-Type"] = "application/json" }
  if auth then headers["Authorization"] = auth end
  return wrk.format("POST", nil, headers, string.format(notif_tmpl, table.concat(parts, ",")))
end
