-- Today's schema: what `pg_dump --schema-only --no-owner --no-privileges` prints
-- for a database migrated to the last file of migrations/. Do not edit: add a
-- migration. tests/pg/sql_pgtest.cc regenerates it and fails when it differs;
-- it writes the fresh one to build/schema.sql to copy over this file.
--
-- PostgreSQL database dump
--



SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: cueball_blobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_blobs (
    run_id uuid NOT NULL,
    name text NOT NULL,
    content_type text DEFAULT 'application/octet-stream'::text NOT NULL,
    data bytea NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: cueball_event_batches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_event_batches (
    id bigint NOT NULL,
    count integer NOT NULL,
    last_seq bigint NOT NULL,
    "position" bigint,
    CONSTRAINT cueball_event_batches_count_check CHECK ((count > 0)),
    CONSTRAINT cueball_event_batches_position_check CHECK (("position" >= 0))
);


--
-- Name: cueball_event_batches_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.cueball_event_batches_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: cueball_event_batches_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.cueball_event_batches_id_seq OWNED BY public.cueball_event_batches.id;


--
-- Name: cueball_event_head; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_event_head (
    id integer NOT NULL,
    "position" bigint NOT NULL,
    pruned_through bigint DEFAULT 0 NOT NULL,
    CONSTRAINT cueball_event_head_id_check CHECK ((id = 1)),
    CONSTRAINT cueball_event_head_position_check CHECK (("position" >= 0)),
    CONSTRAINT cueball_event_head_pruned_through_check CHECK ((pruned_through >= 0))
);


--
-- Name: cueball_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_events (
    seq bigint NOT NULL,
    run_id uuid NOT NULL,
    kind text NOT NULL,
    step text,
    attempt integer,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    batch_id bigint NOT NULL,
    ord bigint NOT NULL,
    also text,
    started_at timestamp with time zone,
    started_by text,
    CONSTRAINT cueball_events_ord_positive CHECK ((ord > 0))
);


--
-- Name: cueball_event_log; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.cueball_event_log AS
 SELECT e.run_id,
    (e.seq + x.i) AS seq,
        CASE
            WHEN (x.i < s.k) THEN 'step_started'::text
            WHEN (x.i = s.k) THEN e.kind
            ELSE e.also
        END AS kind,
    e.step,
    e.attempt,
        CASE
            WHEN (x.i < s.k) THEN jsonb_build_object('owner', e.started_by)
            ELSE e.data
        END AS data,
        CASE
            WHEN (x.i < s.k) THEN e.started_at
            ELSE e.created_at
        END AS created_at,
    e.batch_id,
    (e.ord + x.i) AS ord,
    ((b."position" + e.ord) + x.i) AS "position"
   FROM (((public.cueball_events e
     CROSS JOIN LATERAL ( SELECT
                CASE
                    WHEN (e.started_at IS NULL) THEN 0
                    ELSE 1
                END AS k) s)
     CROSS JOIN LATERAL generate_series(0, (s.k +
        CASE
            WHEN (e.also IS NULL) THEN 0
            ELSE 1
        END)) x(i))
     LEFT JOIN public.cueball_event_batches b ON ((b.id = e.batch_id)));


--
-- Name: cueball_events_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.cueball_events_seq_seq
    START WITH 1
    INCREMENT BY 3
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: cueball_events_seq_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.cueball_events_seq_seq OWNED BY public.cueball_events.seq;


--
-- Name: cueball_nodes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_nodes (
    id text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    version text NOT NULL,
    listen text NOT NULL,
    queues text[] NOT NULL,
    workers integer NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    stopped_at timestamp with time zone,
    types text[] DEFAULT '{}'::text[] NOT NULL,
    CONSTRAINT cueball_nodes_workers_check CHECK ((workers > 0))
);


--
-- Name: cueball_queues; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_queues (
    name text NOT NULL,
    paused_at timestamp with time zone,
    pause_reason text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: cueball_run_summaries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_run_summaries (
    id uuid NOT NULL,
    workflow_type text NOT NULL,
    queue text NOT NULL,
    status text NOT NULL,
    step_index integer NOT NULL,
    step_name text NOT NULL,
    attempt integer NOT NULL,
    created_at timestamp with time zone NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone NOT NULL,
    pruned_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT cueball_run_summaries_status_check CHECK ((status = ANY (ARRAY['succeeded'::text, 'failed'::text, 'canceled'::text])))
);


--
-- Name: cueball_run_tags; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_run_tags (
    key text NOT NULL,
    value text NOT NULL,
    run_id uuid NOT NULL
);


--
-- Name: cueball_run_waits; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_run_waits (
    waiter_id uuid NOT NULL,
    target_id uuid NOT NULL
);


--
-- Name: cueball_runs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_runs (
    id uuid NOT NULL,
    workflow_type text NOT NULL,
    queue text DEFAULT 'default'::text NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    status text DEFAULT 'enqueued'::text NOT NULL,
    step_index integer DEFAULT 0 NOT NULL,
    step_name text NOT NULL,
    attempt integer DEFAULT 0 NOT NULL,
    input jsonb DEFAULT '{}'::jsonb NOT NULL,
    state jsonb DEFAULT '{}'::jsonb NOT NULL,
    result jsonb,
    error text,
    idempotency_key text,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    lease_id uuid,
    lease_owner text,
    lease_expires_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    parent_id uuid,
    wait jsonb,
    start_logged_lease uuid,
    tags jsonb,
    deadline_at timestamp with time zone,
    deadline_action text,
    CONSTRAINT cueball_runs_attempt_check CHECK ((attempt >= 0)),
    CONSTRAINT cueball_runs_deadline_action_check CHECK ((deadline_action = ANY (ARRAY['fail'::text, 'cancel'::text]))),
    CONSTRAINT cueball_runs_finished_iff_terminal CHECK (((status = ANY (ARRAY['succeeded'::text, 'failed'::text, 'canceled'::text])) = (finished_at IS NOT NULL))),
    CONSTRAINT cueball_runs_lease_iff_running CHECK (((status = 'running'::text) = ((lease_id IS NOT NULL) AND (lease_owner IS NOT NULL) AND (lease_expires_at IS NOT NULL)))),
    CONSTRAINT cueball_runs_status_check CHECK ((status = ANY (ARRAY['enqueued'::text, 'running'::text, 'waiting'::text, 'succeeded'::text, 'failed'::text, 'canceled'::text]))),
    CONSTRAINT cueball_runs_step_index_check CHECK ((step_index >= 0)),
    CONSTRAINT cueball_runs_waiting_has_wait CHECK (((status <> 'waiting'::text) OR (wait IS NOT NULL)))
);


--
-- Name: cueball_schedules; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_schedules (
    name text NOT NULL,
    cron text NOT NULL,
    timezone text NOT NULL,
    workflow_type text NOT NULL,
    input jsonb DEFAULT '{}'::jsonb NOT NULL,
    queue text DEFAULT 'default'::text NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    tags jsonb,
    catch_up text DEFAULT 'one'::text NOT NULL,
    paused_at timestamp with time zone,
    next_at timestamp with time zone NOT NULL,
    last_tick_at timestamp with time zone,
    last_run_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT cueball_schedules_catch_up_check CHECK ((catch_up = ANY (ARRAY['one'::text, 'skip'::text])))
);


--
-- Name: cueball_schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: cueball_signals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_signals (
    seq bigint NOT NULL,
    run_id uuid NOT NULL,
    name text NOT NULL,
    payload jsonb DEFAULT 'null'::jsonb NOT NULL,
    idempotency_key text,
    step_index integer,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    bound_at timestamp with time zone
);


--
-- Name: cueball_signals_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.cueball_signals_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: cueball_signals_seq_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.cueball_signals_seq_seq OWNED BY public.cueball_signals.seq;


--
-- Name: cueball_subscriptions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_subscriptions (
    name text NOT NULL,
    "position" bigint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    acked_at timestamp with time zone,
    CONSTRAINT cueball_subscriptions_name_check CHECK ((name <> ''::text)),
    CONSTRAINT cueball_subscriptions_position_check CHECK (("position" >= 0))
);


--
-- Name: cueball_workers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_workers (
    id text NOT NULL,
    identity text NOT NULL,
    node text NOT NULL,
    queues text[] NOT NULL,
    types text[] NOT NULL,
    slots integer NOT NULL,
    lease_ms integer NOT NULL,
    in_flight integer DEFAULT 0 NOT NULL,
    registered_at timestamp with time zone DEFAULT now() NOT NULL,
    last_heartbeat_at timestamp with time zone DEFAULT now() NOT NULL,
    stopped_at timestamp with time zone,
    CONSTRAINT cueball_workers_lease_ms_check CHECK ((lease_ms > 0)),
    CONSTRAINT cueball_workers_slots_check CHECK ((slots > 0))
);


--
-- Name: cueball_workflow_types; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cueball_workflow_types (
    name text NOT NULL,
    source text NOT NULL,
    definition jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: cueball_events seq; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_events ALTER COLUMN seq SET DEFAULT nextval('public.cueball_events_seq_seq'::regclass);


--
-- Name: cueball_signals seq; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_signals ALTER COLUMN seq SET DEFAULT nextval('public.cueball_signals_seq_seq'::regclass);


--
-- Name: cueball_blobs cueball_blobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_blobs
    ADD CONSTRAINT cueball_blobs_pkey PRIMARY KEY (run_id, name);


--
-- Name: cueball_event_batches cueball_event_batches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_event_batches
    ADD CONSTRAINT cueball_event_batches_pkey PRIMARY KEY (id);


--
-- Name: cueball_event_head cueball_event_head_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_event_head
    ADD CONSTRAINT cueball_event_head_pkey PRIMARY KEY (id);


--
-- Name: cueball_events cueball_events_batch; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_events
    ADD CONSTRAINT cueball_events_batch PRIMARY KEY (batch_id, ord);


--
-- Name: cueball_nodes cueball_nodes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_nodes
    ADD CONSTRAINT cueball_nodes_pkey PRIMARY KEY (id);


--
-- Name: cueball_queues cueball_queues_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_queues
    ADD CONSTRAINT cueball_queues_pkey PRIMARY KEY (name);


--
-- Name: cueball_run_summaries cueball_run_summaries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_run_summaries
    ADD CONSTRAINT cueball_run_summaries_pkey PRIMARY KEY (id);


--
-- Name: cueball_run_tags cueball_run_tags_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_run_tags
    ADD CONSTRAINT cueball_run_tags_pkey PRIMARY KEY (key, value, run_id);


--
-- Name: cueball_run_waits cueball_run_waits_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_run_waits
    ADD CONSTRAINT cueball_run_waits_pkey PRIMARY KEY (target_id, waiter_id);


--
-- Name: cueball_runs cueball_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_runs
    ADD CONSTRAINT cueball_runs_pkey PRIMARY KEY (id);


--
-- Name: cueball_schedules cueball_schedules_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_schedules
    ADD CONSTRAINT cueball_schedules_pkey PRIMARY KEY (name);


--
-- Name: cueball_schema_migrations cueball_schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_schema_migrations
    ADD CONSTRAINT cueball_schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: cueball_signals cueball_signals_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_signals
    ADD CONSTRAINT cueball_signals_key UNIQUE (run_id, idempotency_key);


--
-- Name: cueball_signals cueball_signals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_signals
    ADD CONSTRAINT cueball_signals_pkey PRIMARY KEY (seq);


--
-- Name: cueball_subscriptions cueball_subscriptions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_subscriptions
    ADD CONSTRAINT cueball_subscriptions_pkey PRIMARY KEY (name);


--
-- Name: cueball_workers cueball_workers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_workers
    ADD CONSTRAINT cueball_workers_pkey PRIMARY KEY (id);


--
-- Name: cueball_workflow_types cueball_workflow_types_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cueball_workflow_types
    ADD CONSTRAINT cueball_workflow_types_pkey PRIMARY KEY (name);


--
-- Name: cueball_event_batches_pending; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_event_batches_pending ON public.cueball_event_batches USING btree (last_seq) WHERE ("position" IS NULL);


--
-- Name: cueball_event_batches_position; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX cueball_event_batches_position ON public.cueball_event_batches USING btree ("position");


--
-- Name: cueball_events_run; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_events_run ON public.cueball_events USING btree (run_id, seq);


--
-- Name: cueball_nodes_last_seen; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_nodes_last_seen ON public.cueball_nodes USING btree (last_seen_at);


--
-- Name: cueball_run_waits_waiter; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_run_waits_waiter ON public.cueball_run_waits USING btree (waiter_id);


--
-- Name: cueball_runs_children; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_runs_children ON public.cueball_runs USING btree (parent_id, id) WHERE (parent_id IS NOT NULL);


--
-- Name: cueball_runs_deadline; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_runs_deadline ON public.cueball_runs USING btree (deadline_at) WHERE ((deadline_at IS NOT NULL) AND (status = ANY (ARRAY['enqueued'::text, 'running'::text, 'waiting'::text])));


--
-- Name: cueball_runs_finished; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_runs_finished ON public.cueball_runs USING btree (finished_at) WHERE (finished_at IS NOT NULL);


--
-- Name: cueball_runs_idempotency_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX cueball_runs_idempotency_key ON public.cueball_runs USING btree (idempotency_key) WHERE (idempotency_key IS NOT NULL);


--
-- Name: cueball_runs_leases; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_runs_leases ON public.cueball_runs USING btree (lease_expires_at) WHERE (status = 'running'::text);


--
-- Name: cueball_runs_ready; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_runs_ready ON public.cueball_runs USING btree (queue, priority, run_at, id) WHERE (status = 'enqueued'::text);


--
-- Name: cueball_runs_status_rare; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_runs_status_rare ON public.cueball_runs USING btree (status, id) WHERE (status = ANY (ARRAY['waiting'::text, 'failed'::text, 'canceled'::text]));


--
-- Name: cueball_runs_type_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_runs_type_status ON public.cueball_runs USING btree (workflow_type, status, id) WHERE (status <> ALL (ARRAY['enqueued'::text, 'running'::text]));


--
-- Name: cueball_runs_waiting; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_runs_waiting ON public.cueball_runs USING btree (run_at) WHERE (status = 'waiting'::text);


--
-- Name: cueball_schedules_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_schedules_due ON public.cueball_schedules USING btree (next_at) WHERE (paused_at IS NULL);


--
-- Name: cueball_signals_run; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_signals_run ON public.cueball_signals USING btree (run_id, name, seq);


--
-- Name: cueball_workers_last_heartbeat; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cueball_workers_last_heartbeat ON public.cueball_workers USING btree (last_heartbeat_at);


--
-- PostgreSQL database dump complete
--


