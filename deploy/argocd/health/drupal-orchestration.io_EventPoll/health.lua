-- Argo CD health of EventPoll resources (drupal-orchestration.io).
-- Generated from deploy/argocd/conditions-health.lua.tmpl by scripts/sync-argocd-health: edit the template.
-- Healthy when Ready=True for the current generation; Degraded when Stalled=True (only a change of
-- spec or of a referenced Secret can help); Progressing otherwise: not yet observed, reconciling,
-- waiting for its connection, retrying.
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
if status == nil or (status.observedGeneration == nil and status.conditions == nil) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the resource"
  return hs
end
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local stalled = find(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = says(stalled, "Stalled")
  return hs
end

local ready = find(status.conditions, "Ready")
local current = ready ~= nil and (ready.observedGeneration == nil or generation == nil or ready.observedGeneration == generation)
if current and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = says(ready, "Ready")
  return hs
end

local reconciling = find(status.conditions, "Reconciling")
hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = says(reconciling, "Reconciling")
elseif current then
  hs.message = says(ready, "Not ready")
else
  hs.message = "Reconciling"
end
return hs
