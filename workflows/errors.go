package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"
)

// asApp finds the application error an activity or child returned.
func asApp(err error, target **temporal.ApplicationError) bool {
	return errors.As(err, target)
}
