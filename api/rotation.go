package api

import (
	"time"

	"keyhaven.dev/keyhaven"
)

// Rotation asks for a key's new secret.
type Rotation struct {
	GracePeriodSeconds int64 `json:"gracePeriodSeconds,omitempty" minimum:"0" maximum:"604800" doc:"How long the old secret keeps working; 0 (the default): not at all"`
}

// rotationGrace returns the grace period a rotation asks for (none without a body).
func rotationGrace(r *Rotation) (time.Duration, error) {
	if r == nil {
		return 0, nil
	}
	return keyhaven.Grace("gracePeriodSeconds", r.GracePeriodSeconds)
}
