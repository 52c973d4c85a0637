-- 009: the llm engine's per-reel hook-analysis cache (actors/analyzer/llm.c).
-- A hook analysis depends only on the reel's text, the model and the prompt
-- version; reel_key is a hash of those (llm_reel_key), so a re-run, or a
-- competitor shared by several creators, does not pay for the same call
-- twice. model and prompt_version are kept for inspection and clean-up
-- (DELETE ... WHERE prompt_version <> current). Not job data: losing rows
-- only costs calls.
CREATE TABLE IF NOT EXISTS llm_hook_cache (
    reel_key       TEXT PRIMARY KEY,
    model          VARCHAR(100) NOT NULL,
    prompt_version VARCHAR(50) NOT NULL,
    analysis       JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
