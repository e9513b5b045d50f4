-- Phase 3, for the report: runs left without a deployment (no course).
SELECT count(*) FROM run WHERE deployment_id IS NULL
