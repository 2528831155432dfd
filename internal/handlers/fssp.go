package handlers

import (
	"context"

	"github.com/legalgate/legalgate/internal/api"
)

// fsspHandlers implements the FSSP operations of the contract.
type fsspHandlers struct {
	deps *Deps
}

// FsspSearchGroup is not built yet.
func (h fsspHandlers) FsspSearchGroup(ctx context.Context, request api.FsspSearchGroupRequestObject) (api.FsspSearchGroupResponseObject, error) {
	return nil, notBuilt("fsspSearchGroup")
}

// FsspSearchIP is not built yet.
func (h fsspHandlers) FsspSearchIP(ctx context.Context, request api.FsspSearchIPRequestObject) (api.FsspSearchIPResponseObject, error) {
	return nil, notBuilt("fsspSearchIP")
}

// FsspSearchLegal is not built yet.
func (h fsspHandlers) FsspSearchLegal(ctx context.Context, request api.FsspSearchLegalRequestObject) (api.FsspSearchLegalResponseObject, error) {
	return nil, notBuilt("fsspSearchLegal")
}

// FsspSearchPhysical is not built yet.
func (h fsspHandlers) FsspSearchPhysical(ctx context.Context, request api.FsspSearchPhysicalRequestObject) (api.FsspSearchPhysicalResponseObject, error) {
	return nil, notBuilt("fsspSearchPhysical")
}

// FsspGetTask is not built yet.
func (h fsspHandlers) FsspGetTask(ctx context.Context, request api.FsspGetTaskRequestObject) (api.FsspGetTaskResponseObject, error) {
	return nil, notBuilt("fsspGetTask")
}
