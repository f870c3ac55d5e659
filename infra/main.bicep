// `azd up`: one resource group with the function app and what it needs, and the patching
// role assigned to the app's identity at every target subscription.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Region of the resource group and its resources.')
param location string

@description('Subscriptions whose VMs the app patches (PATCH_SUBSCRIPTIONS); the role is assigned at each. Defaults to this one.')
param targetSubscriptionIds array = [subscription().subscriptionId]

@description('Set by the postdeploy hook once the code (and so the eventgrid_extension key) exists.')
param subscribeReleaseTrigger bool = false

@description('App settings of azure_io/app_settings.py to set beside their defaults, e.g. {"PATCH_ERROR_BUDGET_PERCENT": "5"}.')
param appSettingOverrides object = {}

var tags = { 'azd-env-name': environmentName }
var token = toLower(uniqueString(subscription().id, environmentName, location))
var patchRole = loadJsonContent('role.json')
// The custom role is defined once (in this subscription) and assignable in every target.
var patchRoleId = guid(subscription().id, 'patch-orchestrator-role', environmentName)

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: { name: 'id-${token}', location: location, tags: tags }
}

module monitoring 'core/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    token: token
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module storage 'core/storage.bicep' = {
  scope: rg
  name: 'storage'
  params: {
    name: 'st${token}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module app 'app/function-app.bicep' = {
  scope: rg
  name: 'function-app'
  params: {
    token: token
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    tableEndpoint: storage.outputs.tableEndpoint
    appInsightsConnectionString: monitoring.outputs.connectionString
    targetSubscriptionIds: targetSubscriptionIds
    appSettingOverrides: appSettingOverrides
  }
}

module releases 'app/release-topic.bicep' = {
  scope: rg
  name: 'release-topic'
  params: {
    name: 'evgt-${token}'
    location: location
    tags: tags
    functionAppName: app.outputs.name
    subscribe: subscribeReleaseTrigger
  }
}

resource patchRoleDefinition 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: patchRoleId
  properties: {
    roleName: '${patchRole.roleName} (${environmentName})'
    description: patchRole.description
    type: 'CustomRole'
    permissions: patchRole.permissions
    // Where it may be assigned: every target, and the subscription it is created in.
    assignableScopes: union([subscription().id], map(targetSubscriptionIds, id => '/subscriptions/${id}'))
  }
}

module patchRoleAssignments 'security/subscription-role.bicep' = [
  for id in targetSubscriptionIds: {
    scope: subscription(id)
    name: 'patch-role-${uniqueString(id, environmentName)}'
    params: {
      roleDefinitionName: patchRoleDefinition.name // the guid; also waits for the definition
      principalId: identity.outputs.principalId
    }
  }
]

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output SERVICE_API_NAME string = app.outputs.name
output SERVICE_API_URI string = app.outputs.uri
output RELEASE_TOPIC_ENDPOINT string = releases.outputs.endpoint
output AZURE_CLIENT_ID string = identity.outputs.clientId
