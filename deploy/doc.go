// Package deploy holds no code: it is the module of the tests of Warren's deployment files,
// kubernetes/ (kustomize) and grafana/, kept apart from the main module so that the
// Kubernetes and KEDA API types it decodes them into do not become Warren's dependencies.
//
//	cd deploy && go test ./...
package deploy
