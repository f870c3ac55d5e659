// The custom topic operators publish release events to (Entra auth only), and its
// subscription to the app's `release_published` Event Grid trigger.
param name string
param location string
param tags object
param functionAppName string

@description('False on the first provision: the eventgrid_extension key exists once the code is deployed.')
param subscribe bool

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'EventGridSchema'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// The webhook's code is the host's eventgrid_extension system key, read at deployment
// time: no secret is in the repository or in azd's environment.
resource toTrigger 'Microsoft.EventGrid/topics/eventSubscriptions@2025-02-15' = if (subscribe) {
  parent: topic
  name: 'release-published'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/eventgrid?functionName=release_published&code=${listKeys('${app.id}/host/default', '2024-04-01').systemKeys.eventgrid_extension}'
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: { includedEventTypes: ['Patching.ReleasePublished'] }
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
  }
}

output endpoint string = topic.properties.endpoint
