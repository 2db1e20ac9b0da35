-- Argo CD health of a ServiceRun (drupal-orchestration.io): one execution of a remote service, like a
-- Job. Healthy when it Succeeded; Degraded when it Failed, ended Unknown (the outcome cannot be known;
-- it is not called again) or is Stalled (refused before executing); Progressing while Pending or Running.
local hs = {}

local function find(conditions, wanted)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == wanted then
      return condition
    end
  end
  return nil
end

local function says(condition, fallback)
  if condition ~= nil and condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  if condition ~= nil and condition.reason ~= nil and condition.reason ~= "" then
    return condition.reason
  end
  return fallback
end

local status = obj.status
local generation = obj.metadata.generation
if status == nil or (status.observedGeneration == nil and status.phase == nil and status.conditions == nil) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the run"
  return hs
end
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local stalled = find(status.conditions, "Stalled")
local ready = find(status.conditions, "Ready")
local phase = status.phase

if (stalled ~= nil and stalled.status == "True") or phase == "Failed" or phase == "Unknown" then
  hs.status = "Degraded"
  if stalled ~= nil and stalled.status == "True" then
    hs.message = says(stalled, "Stalled")
  elseif status.error ~= nil and status.error.message ~= nil and status.error.message ~= "" then
    hs.message = status.error.message
  else
    hs.message = says(ready, "Run " .. phase)
  end
  return hs
end

if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = says(ready, "Succeeded")
  return hs
end

local reconciling = find(status.conditions, "Reconciling")
hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = says(reconciling, phase or "Pending")
else
  hs.message = phase or "Pending"
end
return hs
