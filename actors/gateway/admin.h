/*
 * The operations page (GET /admin/) and its read-only JSON endpoints under
 * /admin/api/ (docs/API.md, "Operations page"). The page's files are
 * embedded at build time (actors/gateway/admin/embed.sh); its data comes
 * from one PostgreSQL query per endpoint and, for the actors, from the
 * supervisor (CONTROL status on the gateway's parent channel).
 */
#ifndef VIRALSUP_GATEWAY_ADMIN_H
#define VIRALSUP_GATEWAY_ADMIN_H

struct admin_asset {
	const char *name;  /* "index.html", "app.js" */
	const char *ctype; /* Content-Type */
	const char *etag;  /* quoted, fixed per build */
	const char *body;  /* NUL-terminated text */
};
extern const struct admin_asset admin_assets[];
extern const int admin_assets_count;

struct gw_req;

/* GET /admin/ and GET /admin/{file}: the page, no token needed (it holds
 * no data); 503 when ADMIN_API_TOKEN is not set. */
void admin_page(struct gw_req *r);
void admin_asset(struct gw_req *r);
/* The data endpoints; the router has checked the admin token. */
void admin_summary(struct gw_req *r);
void admin_actors(struct gw_req *r);
void admin_jobs(struct gw_req *r);
void admin_job(struct gw_req *r);
/* POST /admin/api/claiming/pause|resume: viralctl pause/resume, through the
 * supervisor to the scheduler (one implementation). */
void admin_claiming(struct gw_req *r);

#endif
