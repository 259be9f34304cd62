#include "acl.h"

#include "topic_cover.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

enum acl_access {
    ACL_READ = 1,
    ACL_WRITE = 2,
};

struct acl_rule {
    uint8_t access;
    bool substitutes; /* holds %c or %u */
    char *filter;
    size_t filter_len;
};

struct acl_section {
    char *name; /* NULL for the pattern section */
    size_t name_len;
    struct acl_rule *rules;
    size_t count, cap;
};

struct acl {
    struct acl_section *users, *clients; /* sorted by name after loading */
    size_t user_count, client_count;
    struct acl_section pattern;
};

/* ---- checking ---- */

struct identity {
    mqttproto_str client_id;
    bool has_username;
    mqttproto_str username;
};

static bool substitution_ok(mqttproto_str v)
{
    if (v.len == 0) {
        return false;
    }
    for (size_t i = 0; i < v.len; i++) {
        if (v.data[i] == '/' || v.data[i] == '+' || v.data[i] == '#') {
            return false;
        }
    }
    return true;
}

/* The rule's filter for @p who into @p buf (or a malloc'ed one in *heap).
   False when the rule does not apply to this client. */
static bool expand(const struct acl_rule *r, const struct identity *who, char *buf, size_t cap,
                   char **heap, mqttproto_str *out)
{
    size_t need = 0;
    for (size_t i = 0; i < r->filter_len; i++) {
        if (r->filter[i] == '%' && i + 1 < r->filter_len &&
            (r->filter[i + 1] == 'c' || r->filter[i + 1] == 'u')) {
            mqttproto_str v = r->filter[i + 1] == 'c' ? who->client_id : who->username;
            if ((r->filter[i + 1] == 'u' && !who->has_username) || !substitution_ok(v)) {
                return false;
            }
            need += v.len;
            i++;
        } else {
            need++;
        }
    }
    char *dst = buf;
    if (need > cap) {
        dst = *heap = malloc(need);
        if (dst == NULL) {
            return false;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < r->filter_len; i++) {
        if (r->filter[i] == '%' && i + 1 < r->filter_len &&
            (r->filter[i + 1] == 'c' || r->filter[i + 1] == 'u')) {
            mqttproto_str v = r->filter[i + 1] == 'c' ? who->client_id : who->username;
            memcpy(dst + n, v.data, v.len);
            n += v.len;
            i++;
        } else {
            dst[n++] = r->filter[i];
        }
    }
    out->data = dst;
    out->len = n;
    return true;
}

static bool section_allows(const struct acl_section *s, uint8_t access, mqttproto_str target,
                           bool is_filter, const struct identity *who)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct acl_rule *r = &s->rules[i];
        if ((r->access & access) == 0) {
            continue;
        }
        mqttproto_str f = {r->filter, r->filter_len};
        char buf[512];
        char *heap = NULL;
        if (r->substitutes && !expand(r, who, buf, sizeof buf, &heap, &f)) {
            continue;
        }
        bool ok = is_filter ? topic_filter_covers(f, target) : mqttproto_topic_matches(f, target);
        free(heap);
        if (ok) {
            return true;
        }
    }
    return false;
}

static int compare_name(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n == 0 ? 0 : memcmp(a, b, n);
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen;
}

/* Every section named @p name in the sorted array allows it? */
static bool named_allows(const struct acl_section *v, size_t count, mqttproto_str name,
                         uint8_t access, mqttproto_str target, bool is_filter,
                         const struct identity *who)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (compare_name(v[mid].name, v[mid].name_len, name.data, name.len) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (size_t i = lo;
         i < count && compare_name(v[i].name, v[i].name_len, name.data, name.len) == 0; i++) {
        if (section_allows(&v[i], access, target, is_filter, who)) {
            return true;
        }
    }
    return false;
}

static bool acl_allows(const struct acl *acl, uint8_t access, mqttproto_str target, bool is_filter,
                       const struct identity *who)
{
    if (who->has_username &&
        named_allows(acl->users, acl->user_count, who->username, access, target, is_filter, who)) {
        return true;
    }
    if (who->client_id.len > 0 && named_allows(acl->clients, acl->client_count, who->client_id,
                                               access, target, is_filter, who)) {
        return true;
    }
    return section_allows(&acl->pattern, access, target, is_filter, who);
}

static struct auth_result acl_authorize_publish(void *user_data, const struct auth_request *req)
{
    struct identity who = {req->client_id, req->has_username, req->username};
    if (acl_allows(user_data, ACL_WRITE, req->topic, false, &who)) {
        return auth_allow(MQTTPROTO_RC_SUCCESS);
    }
    return auth_deny(MQTTPROTO_RC_NOT_AUTHORIZED);
}

static struct auth_result acl_authorize_subscribe(void *user_data, const struct auth_request *req)
{
    struct identity who = {req->client_id, req->has_username, req->username};
    if (acl_allows(user_data, ACL_READ, req->topic, true, &who)) {
        return auth_allow(MQTTPROTO_RC_GRANTED_QOS_2);
    }
    return auth_deny(MQTTPROTO_RC_NOT_AUTHORIZED);
}

/* ---- loading ---- */

static void section_free(struct acl_section *s)
{
    for (size_t i = 0; i < s->count; i++) {
        free(s->rules[i].filter);
    }
    free(s->rules);
    free(s->name);
}

static void acl_free(void *user_data)
{
    struct acl *acl = user_data;
    if (acl == NULL) {
        return;
    }
    for (size_t i = 0; i < acl->user_count; i++) {
        section_free(&acl->users[i]);
    }
    for (size_t i = 0; i < acl->client_count; i++) {
        section_free(&acl->clients[i]);
    }
    free(acl->users);
    free(acl->clients);
    section_free(&acl->pattern);
    free(acl);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
        s[--n] = '\0';
    }
    return s;
}

/* Check a rule's filter; NULL when it is good, else why not. */
static const char *check_filter(const char *filter, bool *substitutes)
{
    size_t len = strlen(filter);
    char *probe = malloc(len + 1);
    if (probe == NULL) {
        return "out of memory";
    }
    *substitutes = false;
    size_t n = 0;
    const char *why = NULL;
    for (size_t i = 0; i < len; i++) {
        if (filter[i] == '%') {
            if (filter[i + 1] != 'c' && filter[i + 1] != 'u') {
                why = "'%' must be followed by c (client id) or u (user name)";
                break;
            }
            *substitutes = true;
            probe[n++] = 'x';
            i++;
        } else {
            probe[n++] = filter[i];
        }
    }
    if (why == NULL) {
        mqttproto_str p = {probe, n};
        int shared = mqttproto_shared_filter_parse(p, NULL, NULL);
        if (shared != 0) {
            why = "write the filter without $share/GROUP/: rules apply to the filter inside";
        } else if (mqttproto_topic_filter_validate(p) != 0) {
            why = "not a valid topic filter";
        }
    }
    free(probe);
    return why;
}

static const char *add_section(struct acl_section **v, size_t *count, const char *name,
                               struct acl_section **current)
{
    struct acl_section *nv = realloc(*v, (*count + 1) * sizeof *nv);
    if (nv == NULL) {
        return "out of memory";
    }
    *v = nv;
    struct acl_section *s = &nv[*count];
    memset(s, 0, sizeof *s);
    s->name_len = strlen(name);
    s->name = malloc(s->name_len + 1);
    if (s->name == NULL) {
        return "out of memory";
    }
    memcpy(s->name, name, s->name_len + 1);
    (*count)++;
    *current = s;
    return NULL;
}

static const char *add_rule(struct acl_section *s, const char *spec)
{
    char *copy = strdup(spec);
    if (copy == NULL) {
        return "out of memory";
    }
    char *access = copy;
    char *filter = access;
    while (*filter != '\0' && *filter != ' ' && *filter != '\t') {
        filter++;
    }
    if (*filter != '\0') {
        *filter++ = '\0';
    }
    filter = trim(filter);
    uint8_t bits = 0;
    if (strcmp(access, "read") == 0) {
        bits = ACL_READ;
    } else if (strcmp(access, "write") == 0) {
        bits = ACL_WRITE;
    } else if (strcmp(access, "readwrite") == 0) {
        bits = ACL_READ | ACL_WRITE;
    }
    const char *why = NULL;
    bool substitutes = false;
    if (bits == 0) {
        why = "expected: topic read|write|readwrite FILTER";
    } else if (*filter == '\0') {
        why = "the topic filter is missing";
    } else {
        why = check_filter(filter, &substitutes);
    }
    if (why == NULL && s->count == s->cap) {
        size_t cap = s->cap == 0 ? 4 : s->cap * 2;
        struct acl_rule *r = realloc(s->rules, cap * sizeof *r);
        if (r == NULL) {
            why = "out of memory";
        } else {
            s->rules = r;
            s->cap = cap;
        }
    }
    if (why == NULL) {
        struct acl_rule *r = &s->rules[s->count];
        r->access = bits;
        r->substitutes = substitutes;
        r->filter_len = strlen(filter);
        r->filter = malloc(r->filter_len + 1);
        if (r->filter == NULL) {
            why = "out of memory";
        } else {
            memcpy(r->filter, filter, r->filter_len + 1);
            s->count++;
        }
    }
    free(copy);
    return why;
}

static int compare_sections(const void *a, const void *b)
{
    const struct acl_section *x = a, *y = b;
    return compare_name(x->name, x->name_len, y->name, y->name_len);
}

static const char *parse_line(struct acl *acl, char *s, struct acl_section **current)
{
    char *value = s;
    while (*value != '\0' && *value != ' ' && *value != '\t') {
        value++;
    }
    if (*value != '\0') {
        *value++ = '\0';
    }
    value = trim(value);
    if (strcmp(s, "user") == 0 || strcmp(s, "client") == 0) {
        if (*value == '\0') {
            return strcmp(s, "user") == 0 ? "expected: user NAME" : "expected: client ID";
        }
        return s[0] == 'u' ? add_section(&acl->users, &acl->user_count, value, current)
                           : add_section(&acl->clients, &acl->client_count, value, current);
    }
    if (strcmp(s, "pattern") == 0) {
        if (*value != '\0') {
            return "'pattern' takes nothing after it: its topic lines follow it";
        }
        *current = &acl->pattern;
        return NULL;
    }
    if (strcmp(s, "topic") == 0) {
        if (*current == NULL) {
            return "a topic line must follow a 'user NAME', 'client ID' or 'pattern' line";
        }
        return add_rule(*current, value);
    }
    return "unknown keyword (expected user, client, pattern or topic)";
}

bool acl_authorizer_create(const char *path, struct authorizer *out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "mqttproto-broker: cannot read the ACL file %s: %s\n", path,
                strerror(errno));
        return false;
    }
    struct acl *acl = calloc(1, sizeof *acl);
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    const char *why = acl == NULL ? "out of memory" : NULL;
    struct acl_section *current = NULL;
    ssize_t got;
    while (why == NULL && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (strlen(line) != (size_t)got) {
            why = "the line holds a NUL byte";
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#') {
            continue;
        }
        why = parse_line(acl, s, &current);
    }
    free(line);
    fclose(f);
    if (why != NULL) {
        fprintf(stderr, "mqttproto-broker: %s:%u: %s\n", path, lineno, why);
        acl_free(acl);
        return false;
    }
    if (acl->user_count > 1) {
        qsort(acl->users, acl->user_count, sizeof *acl->users, compare_sections);
    }
    if (acl->client_count > 1) {
        qsort(acl->clients, acl->client_count, sizeof *acl->clients, compare_sections);
    }
    memset(out, 0, sizeof *out);
    out->name = "ACL file";
    out->authorize_publish = acl_authorize_publish;
    out->authorize_subscribe = acl_authorize_subscribe;
    out->user_data = acl;
    out->destroy = acl_free;
    return true;
}
