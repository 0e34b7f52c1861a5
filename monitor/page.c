/*
 * page: owns the monitor's HTML and JSON (see page.h).  The page is whole
 * without a script (the figures are written into it here), and its inline
 * script fetches /fragment, this same live part, every second and swaps it
 * in: one renderer, in C.  Nothing comes from elsewhere: no CDN, no font,
 * the chart is inline SVG drawn here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "page.h"

#define CHART_W		600
#define CHART_H		160

void
page_history_add(struct page_history *h, double t, double stored)
{
	if (h->n == PAGE_HISTORY) {
		for (int i = 0; i < PAGE_HISTORY / 2; i++) {
			h->t[i] = h->t[2 * i];
			h->stored[i] = h->stored[2 * i];
		}
		h->n = PAGE_HISTORY / 2;
	}
	h->t[h->n] = t;
	h->stored[h->n] = stored;
	h->n++;
}

static void
page_when(char *buf, size_t len, time_t t)
{
	struct tm	tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* The draw: done when every agency closed; when, from draw.logged or the
   replicas' first sight of it. */
static time_t
page_draw_time(const struct tally *t, const struct scrape *s)
{
	time_t	when = t->draw_time;

	for (int i = 0; i < s->n; i++)
		if (when == 0 && s->r[i].draw_time > 0)
			when = (time_t)s->r[i].draw_time;
	return when;
}

/* Bets per second between history points i-1 and i. */
static double
page_rate(const struct page_history *h, int i)
{
	double	dt = h->t[i] - h->t[i - 1];

	return dt > 0 && h->stored[i] >= h->stored[i - 1] ?
	    (h->stored[i] - h->stored[i - 1]) / dt : 0;
}

static void
page_chart(FILE *fp, const struct page_history *h)
{
	double	max = 1, t0, span;

	fprintf(fp, "<svg id=\"chart\" viewBox=\"0 0 %d %d\" "
	    "role=\"img\" aria-label=\"bets per second over the run\">",
	    CHART_W, CHART_H);
	fprintf(fp, "<rect width=\"%d\" height=\"%d\" class=\"bg\"/>",
	    CHART_W, CHART_H);
	if (h->n < 2) {
		fprintf(fp, "<text x=\"10\" y=\"20\">waiting for data"
		    "</text></svg>");
		return;
	}
	for (int i = 1; i < h->n; i++)
		if (page_rate(h, i) > max)
			max = page_rate(h, i);
	t0 = h->t[0];
	span = h->t[h->n - 1] - t0 > 0 ? h->t[h->n - 1] - t0 : 1;
	fprintf(fp, "<polyline class=\"line\" points=\"");
	for (int i = 1; i < h->n; i++)
		fprintf(fp, "%.1f,%.1f ", (h->t[i] - t0) / span * CHART_W,
		    CHART_H - 4 - page_rate(h, i) / max * (CHART_H - 24));
	fprintf(fp, "\"/><text x=\"6\" y=\"14\">peak %.0f bets/s</text>"
	    "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.0f s</text></svg>",
	    max, CHART_W - 6, CHART_H - 6, span);
}

static void
page_agencies(FILE *fp, const struct tally *t, int drawn)
{
	fprintf(fp, "<h2>Agencies</h2><div class=\"wrap\"><table "
	    "id=\"agencies\"><thead><tr>"
	    "<th>agency</th><th>bets stored</th><th>progress</th>"
	    "<th>closed</th><th>winners</th></tr></thead><tbody>");
	for (uint32_t a = 1; a <= t->agencies; a++) {
		const struct tally_agency	*g = &t->a[a];
		double				 pct = 0;

		if (g->total > 0)
			pct = (double)g->stored * 100 / (double)g->total;
		if (pct > 100)
			pct = 100;
		fprintf(fp, "<tr class=\"agency\" data-agency=\"%u\" "
		    "data-stored=\"%llu\"><td>%u</td><td class=\"num\">%llu",
		    a, (unsigned long long)g->stored, a,
		    (unsigned long long)g->stored);
		if (g->total >= 0)
			fprintf(fp, " / %lld", (long long)g->total);
		fprintf(fp, "</td><td>");
		if (g->total >= 0)
			fprintf(fp, "<div class=\"bar\"><div style=\"width:"
			    "%.1f%%\"></div></div>", pct);
		else
			fprintf(fp, "<span class=\"dim\">file not mounted"
			    "</span>");
		fprintf(fp, "</td><td class=\"%s\">%s</td><td class=\"num\">",
		    g->closed ? "ok" : "dim", g->closed ? "closed" : "open");
		if (drawn)
			fprintf(fp, "%llu", (unsigned long long)g->winners);
		else
			fprintf(fp, "<span class=\"dim\">after the draw"
			    "</span>");
		fprintf(fp, "</td></tr>");
	}
	fprintf(fp, "</tbody></table></div>");
}

static void
page_replicas(FILE *fp, const struct scrape *s)
{
	fprintf(fp, "<h2>Replicas</h2><div class=\"wrap\"><table "
	    "id=\"replicas\"><thead><tr>"
	    "<th>replica</th><th>state</th><th>bets/s</th>"
	    "<th>conns</th><th>fsync</th><th>up</th></tr></thead>"
	    "<tbody>");
	if (s->n == 0)
		fprintf(fp, "<tr><td colspan=\"6\" class=\"dim\">none found%s%s"
		    "</td></tr>", s->err[0] ? ": " : "", s->err);
	for (int i = 0; i < s->n; i++) {
		const struct scrape_replica	*r = &s->r[i];

		fprintf(fp, "<tr class=\"replica\"><td>%s</td>"
		    "<td class=\"%s\">%s</td>", r->addr,
		    r->alive ? "ok" : "bad", r->alive ? "alive" : "down");
		if (!r->alive) {
			fprintf(fp, "<td colspan=\"4\"></td></tr>");
			continue;
		}
		fprintf(fp, "<td class=\"num\">%.0f</td><td class=\"num\">%.0f"
		    "</td><td class=\"num\">%.2f ms</td><td class=\"num\">"
		    "%.0f s</td></tr>", r->rate, r->conns, r->sync_ms,
		    r->uptime);
	}
	fprintf(fp, "</tbody></table></div>");
}

int
page_fragment(FILE *fp, const struct tally *t, const struct scrape *s,
    const struct page_history *h, time_t now)
{
	int	drawn = t->agencies > 0 && t->nclosed == t->agencies;
	char	when[64], at[64];

	page_when(when, sizeof(when), page_draw_time(t, s));
	page_when(at, sizeof(at), now);
	fprintf(fp, "<section class=\"summary\"><div><b id=\"stored\">%llu"
	    "</b> bets stored</div><div><b>%u</b> of %u agencies closed"
	    "</div><div id=\"draw\" class=\"%s\">%s</div></section>",
	    (unsigned long long)t->stored, t->nclosed, t->agencies,
	    drawn ? "ok" : "dim", drawn ? "draw done" : "draw pending");
	if (drawn)
		fprintf(fp, "<p class=\"dim\">draw at <span id=\"draw-time\">"
		    "%s</span></p>", when);
	page_agencies(fp, t, drawn);
	page_replicas(fp, s);
	fprintf(fp, "<h2>Throughput</h2>");
	page_chart(fp, h);
	fprintf(fp, "<p class=\"dim\">updated %s</p>", at);
	return ferror(fp) ? -1 : 0;
}

int
page_html(FILE *fp, const char *fragment, int refresh_ms)
{
	fprintf(fp, "<!DOCTYPE html><html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>Lottery cluster</title><style>"
	    "body{font-family:system-ui,sans-serif;margin:0 auto;"
	    "max-width:960px;padding:12px;color:#222;background:#fafafa}"
	    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.4em}"
	    "table{border-collapse:collapse;width:100%%}"
	    "th,td{padding:4px 6px;border-bottom:1px solid #ddd;"
	    "text-align:left}.num{text-align:right;"
	    "font-variant-numeric:tabular-nums}"
	    ".bar{background:#e3e3e3;height:10px;min-width:60px;"
	    "border-radius:5px;overflow:hidden}"
	    ".bar div{background:#2a7ae2;height:100%%}"
	    ".ok{color:#18794e;font-weight:600}.bad{color:#c0392b;"
	    "font-weight:600}.dim{color:#888}"
	    ".summary{display:flex;flex-wrap:wrap;gap:16px;font-size:1.1em}"
	    "svg{width:100%%;height:auto}svg .bg{fill:#fff;stroke:#ddd}"
	    "svg .line{fill:none;stroke:#2a7ae2;stroke-width:2}"
	    "svg text{font-size:12px;fill:#555}"
	    ".wrap{overflow-x:auto}"
	    "@media (max-width:600px){th,td{padding:3px;font-size:.85em}}"
	    "</style></head><body><h1>Lottery cluster</h1><main id=\"live\">"
	    "%s</main><script>"
	    "(function(){var m=document.getElementById('live');"
	    "function tick(){fetch('/fragment',{cache:'no-store'})"
	    ".then(function(r){return r.ok?r.text():null})"
	    ".then(function(t){if(t!==null)m.innerHTML=t})"
	    ".catch(function(){})}setInterval(tick,%d)})();"
	    "</script></body></html>", fragment, refresh_ms);
	return ferror(fp) ? -1 : 0;
}

int
page_json(FILE *fp, const struct tally *t, const struct scrape *s,
    const struct page_history *h, time_t now)
{
	int	drawn = t->agencies > 0 && t->nclosed == t->agencies;

	fprintf(fp, "{\"time\":%lld,\"stored\":%llu,\"closed\":%u,"
	    "\"draw\":{\"done\":%s,\"time\":%lld},\"agencies\":[",
	    (long long)now, (unsigned long long)t->stored, t->nclosed,
	    drawn ? "true" : "false", (long long)page_draw_time(t, s));
	for (uint32_t a = 1; a <= t->agencies; a++) {
		fprintf(fp, "%s{\"agency\":%u,\"stored\":%llu,\"total\":",
		    a > 1 ? "," : "", a, (unsigned long long)t->a[a].stored);
		if (t->a[a].total >= 0)
			fprintf(fp, "%lld", (long long)t->a[a].total);
		else
			fprintf(fp, "null");
		fprintf(fp, ",\"closed\":%s,\"winners\":",
		    t->a[a].closed ? "true" : "false");
		if (drawn)
			fprintf(fp, "%llu}", (unsigned long long)t->a[a].winners);
		else
			fprintf(fp, "null}");
	}
	fprintf(fp, "],\"replicas\":[");
	for (int i = 0; i < s->n; i++) {
		const struct scrape_replica	*r = &s->r[i];

		fprintf(fp, "%s{\"addr\":\"%s\",\"alive\":%s,\"rate\":%.1f,"
		    "\"connections\":%.0f,\"fsync_ms\":%.3f,\"uptime\":%.0f}",
		    i > 0 ? "," : "", r->addr, r->alive ? "true" : "false",
		    r->rate, r->conns, r->sync_ms, r->uptime);
	}
	fprintf(fp, "],\"history\":[");
	for (int i = 0; i < h->n; i++)
		fprintf(fp, "%s[%.1f,%.0f]", i > 0 ? "," : "", h->t[i],
		    h->stored[i]);
	fprintf(fp, "]}\n");
	return ferror(fp) ? -1 : 0;
}
