// The patching role for the app's identity at one target subscription.
targetScope = 'subscription'

@description('The custom role definition\'s name (a guid); a custom role is one tenant-wide object, referenced here under this subscription.')
param roleDefinitionName string
param principalId string

var roleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionName)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
