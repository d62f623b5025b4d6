// Package provisioning is Warren's seed scenario: provisioning a batch of new devices, one
// child orchestration per device, each waiting for the device to acknowledge its download.
package provisioning

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/retrypolicy"
)

// Register adds the scenario's orchestrators and activities to r.
func Register(r *durable.Registry) error {
	return errors.Join(
		durable.AddOrchestrator(r, "ProvisionNewDevices", ProvisionNewDevices),
		durable.AddOrchestrator(r, "DeviceProvisioningOrchestration", DeviceProvisioningOrchestration),
		durable.AddActivity(r, "GetNewDeviceIds", GetNewDeviceIds),
		durable.AddActivity(r, "CreateInstallationPackage", CreateInstallationPackage),
		durable.AddActivity(r, "SendPackageUrlToDevice", SendPackageUrlToDevice),
	)
}

// Input is ProvisionNewDevices' input.
type Input struct {
	Devices int `json:"devices"`
}

// Output is ProvisionNewDevices' output.
type Output struct {
	Provisioned int `json:"provisioned"`
}

// AckTimeout is how long a device has to acknowledge its download.
const AckTimeout = 24 * time.Hour

// DeviceRetry is the retry policy of each device's orchestration.
var DeviceRetry = retrypolicy.Policy{MaxAttempts: 3, FirstInterval: time.Second, BackoffCoefficient: 2}

// ProvisionNewDevices provisions in.Devices new devices in parallel, each as the child
// orchestration "<instance id>:<device id>", and returns how many were provisioned.
func ProvisionNewDevices(ctx *durable.OrchestrationContext, in Input) (Output, error) {
	var ids []string
	if err := ctx.CallActivity("GetNewDeviceIds", in.Devices).Await(&ids); err != nil {
		return Output{}, err
	}
	tasks := make([]durable.Task, 0, len(ids))
	for _, id := range ids {
		tasks = append(tasks, ctx.CallSubOrchestrator("DeviceProvisioningOrchestration", id,
			durable.WithInstanceID(ctx.InstanceID()+":"+id), durable.WithRetry(DeviceRetry)))
	}
	var acks []bool
	if err := durable.WhenAll(tasks...).Await(&acks); err != nil {
		return Output{}, err
	}
	n := 0
	for _, ok := range acks {
		if ok {
			n++
		}
	}
	return Output{Provisioned: n}, nil
}

// DeviceProvisioningOrchestration prepares a device's installation package, sends the
// device its URL, and waits up to AckTimeout for the device's DownloadCompletedAck. A
// negative acknowledgement fails the orchestration (so its parent's retry policy runs it
// again).
func DeviceProvisioningOrchestration(ctx *durable.OrchestrationContext, deviceID string) (bool, error) {
	var url string
	if err := ctx.CallActivity("CreateInstallationPackage", deviceID).Await(&url); err != nil {
		return false, err
	}
	if err := ctx.CallActivity("SendPackageUrlToDevice", [2]string{deviceID, url}).Await(nil); err != nil {
		return false, err
	}
	var ack bool
	if err := ctx.WaitForExternalEvent("DownloadCompletedAck", AckTimeout).Await(&ack); err != nil {
		return false, err
	}
	if !ack {
		return false, fmt.Errorf("device %s reported that its download failed", deviceID)
	}
	return true, nil
}

// GetNewDeviceIds returns the ids of n new devices: device-0001 … device-n.
func GetNewDeviceIds(_ context.Context, n int) ([]string, error) {
	if n < 0 || n > 100_000 {
		return nil, fmt.Errorf("devices must be between 0 and 100000 (got %d)", n)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("device-%04d", i+1)
	}
	return ids, nil
}

// CreateInstallationPackage returns the download URL of a device's installation package.
func CreateInstallationPackage(_ context.Context, deviceID string) (string, error) {
	if deviceID == "" {
		return "", errors.New("no device id")
	}
	sum := sha256.Sum256([]byte(deviceID))
	return "https://packages.example.com/" + deviceID + ".pkg?sig=" + hex.EncodeToString(sum[:8]), nil
}

// SendPackageUrlToDevice sends a device ([0]) its package URL ([1]). Here it only checks
// its input: there are no real devices.
func SendPackageUrlToDevice(_ context.Context, in [2]string) (struct{}, error) {
	if in[0] == "" || in[1] == "" {
		return struct{}{}, errors.New("need a device id and a URL")
	}
	return struct{}{}, nil
}
