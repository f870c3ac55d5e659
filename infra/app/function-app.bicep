// The function app on Flex Consumption (Linux, Python 3.11) under the user-assigned identity,
// with the app settings of azure_io/app_settings.py's list (infra/app-settings.json).
param token string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerUrl string
param tableEndpoint string
param appInsightsConnectionString string
param targetSubscriptionIds array
param appSettingOverrides object

@description('Instances the app may scale out to.')
param maximumInstanceCount int = 40

var listed = loadJsonContent('../app-settings.json')

// What this deployment decides; every name is on the list (tests/infra checks it).
// Identity-based connections only: no key or connection string among them.
var deployedSettings = {
  PATCH_SUBSCRIPTIONS: join(targetSubscriptionIds, ',')
  PATCH_TABLES_ACCOUNT_URL: tableEndpoint
  PATCH_ARM_CREDENTIAL: 'default'
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  FUNCTIONS_WORKER_PROCESS_COUNT: '1'
  PYTHON_THREADPOOL_THREAD_COUNT: '16'
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Every listed setting with a default is written out, so the portal shows what is in force.
var defaultSettings = toObject(filter(listed.app, s => s.default != null), s => s.name, s => s.default)

// An override only takes effect for a listed setting's name.
var overrides = toObject(filter(listed.app, s => contains(appSettingOverrides, s.name)), s => s.name, s => string(appSettingOverrides[s.name]))

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-${token}'
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: { minTlsVersion: '1.2' }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
        // Orchestrations, entities and activities scale as the `durable` group; one warm
        // instance keeps timers and the task hub's queues served between bursts.
        alwaysReady: [{ name: 'durable', instanceCount: 1 }]
      }
      runtime: { name: 'python', version: '3.11' }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: union(defaultSettings, overrides, deployedSettings)
}

output name string = app.name
output uri string = 'https://${app.properties.defaultHostName}'
