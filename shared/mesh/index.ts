// The mesh module: rendering each side's Istio and Kubernetes objects, their revisions, their validation.
export {
  renderClientObjects,
  renderServerObjects,
  renderCredentialSecret,
  gatewayServicePorts,
  managedKinds,
  type IstioApiVersion,
} from './render.js';
export { canonicalJson, revisionOf, withRevision } from './revision.js';
export { validateIstioObject, type ValidationIssue } from './validate.js';
