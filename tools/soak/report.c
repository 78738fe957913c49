/*
 * report.c: what a run found, for people and for machines: the text
 * summary (stdout), --json FILE and --svg FILE (memory against messages
 * with the fitted line, the warm-up shaded, and probe latency below;
 * hand-written SVG, every text escaped).
 *
 * Interface (soak.h): report_text(), report_json(), report_svg().
 * Limits: writes every sample and probe (at most SOAK_SAMPLES_MAX and
 * SOAK_PROBES_MAX); non-finite numbers are written as null in JSON.
 * Known weaknesses: the SVG draws at most SVG_POINTS probe points (evenly
 * thinned) and uses a linear scale only.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "soak.h"

#define SVG_POINTS 4000

static const char *const stop_names[] = {"count", "duration", "signal", "crash", "unreachable", "no TLS"};

static const char *
stop_name(int s)
{
	return s >= 0 && s <= 5 ? stop_names[s] : "?";
}

void
report_text(const struct soak_opts *o, const struct soak_result *r, FILE *out)
{
	fprintf(out, "holdfast-soak %s%s against %s:%s\n", o->sc->name, o->valid ? " (valid control)" : "", o->host,
	    o->port);
	fprintf(out, "  sent      %llu messages, %llu bytes in %.1f s (%.0f msg/s); stopped by %s\n",
	    (unsigned long long)r->messages_sent, (unsigned long long)r->bytes_sent, r->elapsed, r->send_rate,
	    stop_name(r->stopped_by));
	fprintf(out, "  drained   %.1f s in all; the server read %.0f msg/s\n", r->total_elapsed, r->server_rate);
	fprintf(out, "  conns     %u; %llu opened, %llu closed by server, %llu closed by us, %llu connect failures\n",
	    o->connections, (unsigned long long)r->connects, (unsigned long long)r->server_closes,
	    (unsigned long long)r->own_closes, (unsigned long long)r->connect_failures);
	if (r->tls_handshakes + r->tls_refused + r->tls_failures > 0)
		fprintf(out, "  tls       %llu handshakes; %llu refused by the server's answer, %llu failed (%llu of them "
		    "timed out)\n", (unsigned long long)r->tls_handshakes, (unsigned long long)r->tls_refused,
		    (unsigned long long)r->tls_failures, (unsigned long long)r->tls_timeouts);
	if (r->drain_timeouts > 0)
		fprintf(out, "  drain     %llu half-closed connection(s) still open after --drain-wait %.2g s\n",
		    (unsigned long long)r->drain_timeouts, o->drain_wait);
	if (o->have_target && r->primary != NULL && r->primary->ok) {
		fprintf(out, "  memory    %u samples (%u warm-up)\n", r->nsamples, r->warm_index);
		fprintf(out, "  pss       %+.3f B/msg  95%% CI [%+.3f, %+.3f]%s\n", r->pss_fit.slope, r->pss_fit.lo,
		    r->pss_fit.hi, r->primary == &r->pss_fit ? "  (verdict)" : "");
		fprintf(out, "  rss       %+.3f B/msg  95%% CI [%+.3f, %+.3f]\n", r->rss_fit.slope, r->rss_fit.lo,
		    r->rss_fit.hi);
		fprintf(out, "  uss       %+.3f B/msg  95%% CI [%+.3f, %+.3f]  (private pages only)\n", r->uss_fit.slope,
		    r->uss_fit.lo, r->uss_fit.hi);
		if (o->cgroup != NULL)
			fprintf(out, "  cgroup    %+.3f B/msg  95%% CI [%+.3f, %+.3f]  (verdict)\n", r->cg_fit.slope,
			    r->cg_fit.lo, r->cg_fit.hi);
		if (r->primary->steps > 0)
			fprintf(out, "  steps     %u one-off step(s) of %+.0f bytes in total set aside\n", r->primary->steps,
			    r->primary->step_total);
	} else if (o->have_target) {
		fprintf(out, "  memory    too few samples to fit (%u)\n", r->nsamples);
	} else {
		fprintf(out, "  memory    not measured (no --pid or --cgroup)\n");
	}
	if (o->have_target && r->cpu_fit.ok)
		fprintf(out, "  cpu       %.2f us/msg  95%% CI [%.2f, %.2f]; %.1f%% of one core after warm-up\n",
		    r->cpu_fit.slope * 1e6, r->cpu_fit.lo * 1e6, r->cpu_fit.hi * 1e6, r->cpu_share * 100.0);
	if (o->raw) {
		const struct raw_report *w = &r->raw;

		fprintf(out, "  raw       %llu %s packets sent %s (%llu send errors)\n",
		    (unsigned long long)r->raw_sent, o->sc->raw_kind == RAW_GRE ? "malformed GRE" : "bad-checksum TCP",
		    o->raw_only ? "(the messages; no TCP flood)" : "beside the flood", (unsigned long long)r->raw_errors);
		if (w->paired_ok)
			fprintf(out, "  raw slab  %+.3f B/packet  95%% CI [%+.3f, %+.3f]  (host kernel Slab per raw packet; "
			    "paired: %u on windows against the off windows beside them)\n", w->paired_slope, w->paired_lo,
			    w->paired_hi, w->pairs);
		if (r->raw_slab_fit.ok)
			fprintf(out, "  slab line %+.3f B/packet  95%% CI [%+.3f, %+.3f]  (one line through all samples%s; "
			    "a moving host drift biases it)\n", r->raw_slab_fit.slope, r->raw_slab_fit.lo, r->raw_slab_fit.hi,
			    r->drift_ok ? ", idle drift taken out" : "");
		if (r->drift_ok)
			fprintf(out, "  drift     host Slab while idle: %+.0f B/s before, %+.0f B/s after; uncorrected %+.3f B/packet\n",
			    r->drift_before.ok ? r->drift_before.slope : NAN, r->drift_after.ok ? r->drift_after.slope : NAN,
			    r->raw_slab_uncorrected.slope);
		if (r->raw_pss_fit.ok)
			fprintf(out, "  raw pss   %+.3f B/packet  95%% CI [%+.3f, %+.3f]  (target per raw packet)\n",
			    r->raw_pss_fit.slope, r->raw_pss_fit.lo, r->raw_pss_fit.hi);
		if (r->raw_cpu_fit.ok && !o->raw_only)
			fprintf(out, "  raw cpu   %.2f us/packet  95%% CI [%.2f, %.2f]  (target CPU per raw packet)\n",
			    r->raw_cpu_fit.slope * 1e6, r->raw_cpu_fit.lo * 1e6, r->raw_cpu_fit.hi * 1e6);
		if (o->sc->raw_kind == RAW_TCP_BADSUM && w->csum_known)
			fprintf(out, "  csum      the kernel counted %llu TCP checksum errors meanwhile (Tcp InCsumErrors)\n",
			    (unsigned long long)w->tcp_csum_errors);
		if (o->sc->raw_kind == RAW_GRE)
			fprintf(out, "  calls     %u established at start, %llu set up in all, %llu lost; %llu GRE packets "
			    "aimed at them; %llu bad control messages on their connections; %llu echo replies\n",
			    w->gre_calls, (unsigned long long)w->gre_call_setups, (unsigned long long)w->gre_call_losses,
			    (unsigned long long)w->gre_to_call, (unsigned long long)w->ctl_sent,
			    (unsigned long long)w->echo_replies);
	}
	if (r->avail_fit.ok)
		fprintf(out, "  host      MemAvailable %+.1f B/msg, Slab %+.1f B/msg (whole host, noisy)\n",
		    r->avail_fit.slope, r->slab_fit.slope);
	fprintf(out, "  probe     %u probes, %u failed, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", r->nprobes,
	    r->probe_failures, r->p50, r->p99, r->pmax);
	if (r->npids > 0) {
		unsigned i;

		fprintf(out, "  target    %u process(es) at start:", r->npids);
		for (i = 0; i < r->npids && i < 16; i++)
			fprintf(out, " %d", (int)r->pids[i]);
		fprintf(out, "%s\n", r->npids > 16 ? " ..." : "");
	}
	if (r->crash_reason[0] != '\0')
		fprintf(out, "  crash     %s\n", r->crash_reason);
	if (r->note[0] != '\0')
		fprintf(out, "  note      %s\n", r->note);
	fprintf(out, "verdict: %s (threshold %.3g B/msg)\n", r->verdict, o->threshold);
}

/* ---- JSON ---- */

static void
jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
jnum(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.17g", v);
	else
		fputs("null", f);
}

static void
jkv_num(FILE *f, const char *k, double v)
{
	fprintf(f, ",\n  ");
	jstr(f, k);
	fputs(": ", f);
	jnum(f, v);
}

static void
jkv_str(FILE *f, const char *k, const char *v)
{
	fprintf(f, ",\n  ");
	jstr(f, k);
	fputs(": ", f);
	jstr(f, v);
}

static void
jfit(FILE *f, const char *prefix, const struct soak_fit *fit)
{
	char k[64];

	snprintf(k, sizeof(k), "%sslope_bytes_per_message", prefix);
	jkv_num(f, k, fit->ok ? fit->slope : NAN);
	snprintf(k, sizeof(k), "%sci95_low", prefix);
	jkv_num(f, k, fit->ok ? fit->lo : NAN);
	snprintf(k, sizeof(k), "%sci95_high", prefix);
	jkv_num(f, k, fit->ok ? fit->hi : NAN);
}

int
report_json(const struct soak_opts *o, const struct soak_result *r, const char *path)
{
	static const struct soak_fit none;
	const struct soak_fit *p = r->primary != NULL ? r->primary : &none;
	FILE *f = fopen(path, "we");
	unsigned i;
	char target[300], k[64];

	if (f == NULL)
		return -1;
	snprintf(target, sizeof(target), "%s:%s", o->host, o->port);
	fprintf(f, "{\n  ");
	jstr(f, "verdict");
	fputs(": ", f);
	jstr(f, r->verdict);
	jkv_str(f, "memory_verdict", r->memory_verdict);
	jkv_num(f, "exit_code", r->exit_code);
	jkv_str(f, "scenario", o->sc->name);
	jkv_str(f, "mode", o->valid ? "valid" : "attack");
	jkv_str(f, "target", target);
	jkv_num(f, "threshold_bytes_per_message", o->threshold);
	jkv_str(f, "slope_source", o->have_target ? r->primary_name : "none");
	jfit(f, "", p);
	jkv_num(f, "steps_removed", p->steps);
	jkv_num(f, "step_bytes", p->step_total);
	jfit(f, "rss_", &r->rss_fit);
	jfit(f, "pss_", &r->pss_fit);
	jfit(f, "uss_", &r->uss_fit);
	if (o->cgroup != NULL)
		jfit(f, "cgroup_", &r->cg_fit);
	jfit(f, "memavailable_", &r->avail_fit);
	jfit(f, "slab_", &r->slab_fit);
	jkv_num(f, "cpu_us_per_message", r->cpu_fit.ok ? r->cpu_fit.slope * 1e6 : NAN);
	jkv_num(f, "cpu_us_per_message_ci95_low", r->cpu_fit.ok ? r->cpu_fit.lo * 1e6 : NAN);
	jkv_num(f, "cpu_us_per_message_ci95_high", r->cpu_fit.ok ? r->cpu_fit.hi * 1e6 : NAN);
	jkv_num(f, "cpu_share", o->have_target ? r->cpu_share : NAN);
	jkv_num(f, "raw_cpu_us_per_packet", r->raw_cpu_fit.ok ? r->raw_cpu_fit.slope * 1e6 : NAN);
	jkv_num(f, "messages_sent", (double)r->messages_sent);
	jkv_num(f, "bytes_sent", (double)r->bytes_sent);
	jkv_num(f, "elapsed_s", r->elapsed);
	jkv_num(f, "send_rate", r->send_rate);
	jkv_num(f, "total_elapsed_s", r->total_elapsed);
	jkv_num(f, "server_read_rate", r->server_rate);
	jkv_num(f, "connections", o->connections);
	jkv_num(f, "connects", (double)r->connects);
	jkv_num(f, "server_closes", (double)r->server_closes);
	jkv_num(f, "own_closes", (double)r->own_closes);
	jkv_num(f, "connect_failures", (double)r->connect_failures);
	jkv_num(f, "drain_timeouts", (double)r->drain_timeouts);
	jkv_num(f, "tls_handshakes", (double)r->tls_handshakes);
	jkv_num(f, "tls_refused", (double)r->tls_refused);
	jkv_num(f, "tls_failures", (double)r->tls_failures);
	jkv_num(f, "tls_timeouts", (double)r->tls_timeouts);
	fprintf(f, ",\n  \"tls_gave_up\": %s", r->tls_gave_up ? "true" : "false");
	jkv_num(f, "raw_packets_sent", (double)r->raw_sent);
	jkv_num(f, "raw_send_errors", (double)r->raw_errors);
	jkv_str(f, "raw_mode", !o->raw ? "none" : o->raw_only ? "raw-only" : "beside");
	snprintf(k, sizeof(k), "raw_slab_slope_bytes_per_packet");
	jkv_num(f, k, r->raw_slab_fit.ok ? r->raw_slab_fit.slope : NAN);
	jkv_num(f, "raw_slab_ci95_low", r->raw_slab_fit.ok ? r->raw_slab_fit.lo : NAN);
	jkv_num(f, "raw_slab_ci95_high", r->raw_slab_fit.ok ? r->raw_slab_fit.hi : NAN);
	jkv_num(f, "raw_slab_paired_bytes_per_packet", r->raw.paired_ok ? r->raw.paired_slope : NAN);
	jkv_num(f, "raw_slab_paired_ci95_low", r->raw.paired_ok ? r->raw.paired_lo : NAN);
	jkv_num(f, "raw_slab_paired_ci95_high", r->raw.paired_ok ? r->raw.paired_hi : NAN);
	jkv_num(f, "raw_slab_pairs", r->raw.pairs);
	jkv_num(f, "raw_window_s", o->raw ? o->raw_window : 0);
	jkv_num(f, "raw_slab_uncorrected_bytes_per_packet",
	    r->raw_slab_uncorrected.ok ? r->raw_slab_uncorrected.slope : NAN);
	jkv_num(f, "slab_idle_drift_before_bytes_per_s", r->drift_before.ok ? r->drift_before.slope : NAN);
	jkv_num(f, "slab_idle_drift_after_bytes_per_s", r->drift_after.ok ? r->drift_after.slope : NAN);
	jkv_num(f, "raw_pss_slope_bytes_per_packet", r->raw_pss_fit.ok ? r->raw_pss_fit.slope : NAN);
	jkv_num(f, "raw_pss_ci95_low", r->raw_pss_fit.ok ? r->raw_pss_fit.lo : NAN);
	jkv_num(f, "raw_pss_ci95_high", r->raw_pss_fit.ok ? r->raw_pss_fit.hi : NAN);
	jkv_num(f, "tcp_in_csum_errors", r->raw.csum_known ? (double)r->raw.tcp_csum_errors : NAN);
	jkv_num(f, "gre_calls_established", r->raw.gre_calls);
	jkv_num(f, "gre_call_setups", (double)r->raw.gre_call_setups);
	jkv_num(f, "gre_call_losses", (double)r->raw.gre_call_losses);
	jkv_num(f, "gre_packets_to_calls", (double)r->raw.gre_to_call);
	jkv_num(f, "gre_bad_control_sent", (double)r->raw.ctl_sent);
	jkv_num(f, "gre_echo_replies", (double)r->raw.echo_replies);
	jkv_str(f, "stopped_by", stop_name(r->stopped_by));
	jkv_num(f, "seed", (double)o->seed);
	jkv_num(f, "probe_count", r->nprobes);
	jkv_num(f, "probe_p50_ms", r->p50);
	jkv_num(f, "probe_p99_ms", r->p99);
	jkv_num(f, "probe_max_ms", r->pmax);
	jkv_num(f, "probe_failures", r->probe_failures);
	jkv_str(f, "crash_reason", r->crash_reason);
	jkv_str(f, "note", r->note);
	jkv_num(f, "warmup_samples", r->warm_index);
	fprintf(f, ",\n  \"pids\": [");
	for (i = 0; i < r->npids; i++)
		fprintf(f, "%s%d", i ? ", " : "", (int)r->pids[i]);
	fputc(']', f);
	fprintf(f, ",\n  \"samples\": [");
	for (i = 0; i < r->nsamples; i++) {
		const struct soak_sample *s = &r->samples[i];

		fprintf(f, "%s\n    {\"messages\": ", i ? "," : "");
		jnum(f, s->msgs);
		fputs(", \"t\": ", f);
		jnum(f, s->t);
		fprintf(f, ", \"rss\": %.0f, \"pss\": %.0f, \"uss\": %.0f, \"cgroup\": %.0f, \"memavailable\": %.0f, "
		    "\"slab\": %.0f, \"raw\": %.0f, \"cpu\": %.3f, \"procs\": %u}", s->rss, s->pss, s->uss, s->cgroup,
		    s->memavail, s->slab, s->raw, s->cpu, s->nprocs);
	}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f) != 0)
		return -1;
	return 0;
}

/* ---- SVG ---- */

static void
xml_text(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			/* XML 1.0 forbids most control characters, even escaped. */
			fputc(c < 0x20 && c != '\t' && c != '\n' ? '?' : c, f);
		}
	}
}

struct panel {
	double x0, y0, w, h;	/* pixels */
	double xmin, xmax, ymin, ymax;
};

static double
px(const struct panel *p, double x)
{
	return p->x0 + (p->xmax > p->xmin ? (x - p->xmin) / (p->xmax - p->xmin) : 0.0) * p->w;
}

static double
py(const struct panel *p, double y)
{
	return p->y0 + p->h - (p->ymax > p->ymin ? (y - p->ymin) / (p->ymax - p->ymin) : 0.0) * p->h;
}

static void
axes(FILE *f, const struct panel *p, const char *ylabel, double yscale, const char *xlabel)
{
	int i;
	char buf[64];

	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", p->x0,
	    p->y0, p->w, p->h);
	for (i = 0; i <= 4; i++) {
		double yv = p->ymin + (p->ymax - p->ymin) * i / 4.0;
		double xv = p->xmin + (p->xmax - p->xmin) * i / 4.0;

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", p->x0, py(p, yv),
		    p->x0 + p->w, py(p, yv));
		snprintf(buf, sizeof(buf), "%.3g", yv / yscale);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">", p->x0 - 4, py(p, yv) + 4);
		xml_text(f, buf);
		fputs("</text>\n", f);
		snprintf(buf, sizeof(buf), "%.4g", xv);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">", px(p, xv),
		    p->y0 + p->h + 14);
		xml_text(f, buf);
		fputs("</text>\n", f);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" transform=\"rotate(-90 %.1f %.1f)\" "
	    "text-anchor=\"middle\">", p->x0 - 48, p->y0 + p->h / 2, p->x0 - 48, p->y0 + p->h / 2);
	xml_text(f, ylabel);
	fputs("</text>\n", f);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">", p->x0 + p->w / 2,
	    p->y0 + p->h + 30);
	xml_text(f, xlabel);
	fputs("</text>\n", f);
}

static void
polyline(FILE *f, const struct panel *p, const struct soak_sample *s, unsigned n, int which, const char *color)
{
	unsigned i;

	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
	for (i = 0; i < n; i++) {
		double v = which == 0 ? s[i].pss : which == 1 ? s[i].rss : s[i].cgroup;

		fprintf(f, "%.1f,%.1f ", px(p, s[i].msgs), py(p, v));
	}
	fputs("\"/>\n", f);
}

int
report_svg(const struct soak_opts *o, const struct soak_result *r, const char *path)
{
	FILE *f = fopen(path, "we");
	struct panel mem = {80, 60, 780, 300, 0, 1, 0, 1}, lat = {80, 430, 780, 140, 0, 1, 0, 1};
	unsigned i, stepn;
	char buf[512];
	const struct soak_fit *fit = r->primary;

	if (f == NULL)
		return -1;
	mem.xmax = lat.xmax = r->messages_sent > 0 ? (double)r->messages_sent : 1.0;
	if (r->nsamples > 0) {
		mem.ymin = INFINITY;
		mem.ymax = -INFINITY;
		for (i = 0; i < r->nsamples; i++) {
			double vals[3] = {r->samples[i].pss, r->samples[i].rss, r->samples[i].cgroup};
			int k;

			for (k = 0; k < 3; k++) {
				if (k == 2 && o->cgroup == NULL)
					continue;
				if (vals[k] < mem.ymin)
					mem.ymin = vals[k];
				if (vals[k] > mem.ymax)
					mem.ymax = vals[k];
			}
		}
		if (!(mem.ymax > mem.ymin)) {
			mem.ymin -= 4096;
			mem.ymax += 4096;
		}
		if (r->samples[r->nsamples - 1].msgs > mem.xmax)
			mem.xmax = lat.xmax = r->samples[r->nsamples - 1].msgs;
	}
	lat.ymax = 1.0;
	for (i = 0; i < r->nprobes; i++)
		if (r->probes[i].ms > lat.ymax)
			lat.ymax = r->probes[i].ms;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"620\" viewBox=\"0 0 900 620\" "
	    "font-family=\"sans-serif\">\n<rect width=\"900\" height=\"620\" fill=\"white\"/>\n");
	snprintf(buf, sizeof(buf), "holdfast-soak %s%s against %s:%s: %s", o->sc->name, o->valid ? " (valid)" : "",
	    o->host, o->port, r->verdict);
	fputs("<text x=\"450\" y=\"22\" font-size=\"16\" text-anchor=\"middle\" font-weight=\"bold\">", f);
	xml_text(f, buf);
	fputs("</text>\n", f);
	if (fit != NULL && fit->ok)
		snprintf(buf, sizeof(buf), "%s slope %.3f B/msg, 95%% CI [%.3f, %.3f]; RSS %.3f B/msg; %llu messages, "
		    "%.0f msg/s", r->primary_name, fit->slope, fit->lo, fit->hi, r->rss_fit.slope,
		    (unsigned long long)r->messages_sent, r->send_rate);
	else
		snprintf(buf, sizeof(buf), "memory not fitted; %llu messages, %.0f msg/s",
		    (unsigned long long)r->messages_sent, r->send_rate);
	fputs("<text x=\"450\" y=\"42\" font-size=\"12\" text-anchor=\"middle\">", f);
	xml_text(f, buf);
	fputs("</text>\n", f);
	/* warm-up shading */
	if (r->warm_index > 0 && r->warm_index < r->nsamples)
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#f0f0f0\"/>\n", mem.x0,
		    mem.y0, px(&mem, r->samples[r->warm_index].msgs) - mem.x0, mem.h);
	axes(f, &mem, "memory (MiB)", 1048576.0, "messages sent");
	if (r->nsamples > 1) {
		polyline(f, &mem, r->samples, r->nsamples, 1, "#1f77b4");
		polyline(f, &mem, r->samples, r->nsamples, 0, "#2ca02c");
		if (o->cgroup != NULL)
			polyline(f, &mem, r->samples, r->nsamples, 2, "#9467bd");
	}
	if (fit != NULL && fit->ok && r->warm_index < r->nsamples) {
		/* The fitted line over the fitted range, moved at each step
		 * that was set aside, so it lies on the data. */
		double xa = r->samples[r->warm_index].msgs, xb = r->samples[r->nsamples - 1].msgs, off = 0.0;
		unsigned k;

		fprintf(f, "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"6 4\" "
		    "points=\"%.1f,%.1f ", px(&mem, xa), py(&mem, fit->intercept + fit->slope * xa));
		for (k = 0; k < fit->steps && k < 4; k++) {
			double xs = fit->step_x[k];

			fprintf(f, "%.1f,%.1f ", px(&mem, xs), py(&mem, fit->intercept + fit->slope * xs + off));
			off += fit->step_y[k];
			fprintf(f, "%.1f,%.1f ", px(&mem, xs), py(&mem, fit->intercept + fit->slope * xs + off));
		}
		fprintf(f, "%.1f,%.1f\"/>\n", px(&mem, xb), py(&mem, fit->intercept + fit->slope * xb + off));
	}
	fputs("<text x=\"100\" y=\"78\" font-size=\"11\" fill=\"#2ca02c\">PSS</text>\n"
	    "<text x=\"140\" y=\"78\" font-size=\"11\" fill=\"#1f77b4\">RSS</text>\n"
	    "<text x=\"180\" y=\"78\" font-size=\"11\" fill=\"#d62728\">fit (after warm-up)</text>\n", f);
	if (o->cgroup != NULL)
		fputs("<text x=\"300\" y=\"78\" font-size=\"11\" fill=\"#9467bd\">cgroup</text>\n", f);
	axes(f, &lat, "probe latency (ms)", 1.0, "messages sent");
	stepn = r->nprobes > SVG_POINTS ? r->nprobes / SVG_POINTS + 1 : 1;
	for (i = 0; i < r->nprobes; i += stepn) {
		const struct soak_probe_rec *q = &r->probes[i];

		if (q->ms < 0)
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\"/>\n",
			    px(&lat, q->msgs), lat.y0, px(&lat, q->msgs), lat.y0 + lat.h);
		else
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.5\" fill=\"#ff7f0e\"/>\n", px(&lat, q->msgs),
			    py(&lat, q->ms));
	}
	snprintf(buf, sizeof(buf), "probe: %u, failed %u (red), p50 %.2f ms, p99 %.2f ms", r->nprobes,
	    r->probe_failures, r->p50, r->p99);
	fputs("<text x=\"100\" y=\"446\" font-size=\"11\">", f);
	xml_text(f, buf);
	fputs("</text>\n</svg>\n", f);
	if (fclose(f) != 0)
		return -1;
	return 0;
}
