/* camaudit_subscribe_acl: a mosquitto (2.0, plugin API v5) check of every SUBSCRIBE.
 *
 * mosquitto 2.0's acl_file grants every SUBSCRIBE (it checks only at delivery), so a client
 * could hold any number of subscriptions, each kept in the broker's memory. This plugin sees
 * the SUBSCRIBE check before the acl_file (plugins register first) and:
 *   - user named in option `trusted` (names separated by spaces) or on a line of the file in
 *     option `trusted_file` (re-read on SIGHUP): defer (the acl_file decides, as before);
 *   - user with options `allow.<user>`: the filter must equal one of their values;
 *   - any other user: the filter must equal one of the `allow` values, %u read as its name;
 *   - otherwise: denied (SUBACK 0x80 / MQTT 5 "not authorized").
 * So a client holds at most as many subscriptions as its list has entries. Every other check
 * (publish, delivery, unsubscribe) is deferred to the acl_file.
 *
 * It also evens out the cost of a login (MOSQ_EVT_BASIC_AUTH, before the password_file's check):
 * mosquitto's password_file check runs one PBKDF2-SHA512 for a user it knows and none for a name
 * it does not, so the refusal timed a name's existence. With option `passwd_file` (the broker's
 * password file: its names, the part before the first ':' of each line, are re-read on SIGHUP),
 * a login with a password under a name NOT in the file first pays one dummy PBKDF2-SHA512 with
 * the file's iteration count and mosquitto's output length (OpenSSL's PKCS5_PBKDF2_HMAC), then
 * defers; a known name defers at once. The password_file decides every login: this never says
 * yes. Each dummy check is logged at MOSQ_LOG_DEBUG with its running count and iterations.
 * Options: plugin_opt_trusted, plugin_opt_trusted_file, plugin_opt_allow, plugin_opt_allow.USER
 * (any option may repeat), plugin_opt_passwd_file. Written by camaudit hub (hub/broker/mosquitto.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_NAMES 100000  /* names kept from the password file (more: the rest pay the dummy cost twice) */
#define MAX_LINE 1024     /* a longer name is not kept (its owner pays the dummy cost too) */
#define DEFAULT_ITERATIONS 101 /* mosquitto_passwd's PBKDF2 iterations */
#define MAX_ITERATIONS 10000000
#define HASH_LEN 64       /* EVP_MAX_MD_SIZE: what mosquitto's pw__digest asks PBKDF2 for */

static mosquitto_plugin_id_t *pid;
static struct mosquitto_opt *opts;
static int nopts;
static char trusted_file[65537]; /* the file's names, one a line (the hub's workers) */

static void read_trusted_file(void)
{
	trusted_file[0] = '\0';
	for(int i = 0; i < nopts; i++){
		if(strcmp(opts[i].key, "trusted_file")) continue;
		FILE *f = fopen(opts[i].value, "r");
		if(!f) return; /* no workers yet */
		size_t n = fread(trusted_file + 1, 1, sizeof(trusted_file) - 3, f);
		fclose(f);
		while(n == sizeof(trusted_file) - 3 && n > 0 && trusted_file[n] != '\n') n--; /* no cut name */
		trusted_file[0] = '\n'; /* "\n" name "\n" ... so a name is found as "\n<name>\n" */
		trusted_file[n + 1] = '\n';
		trusted_file[n + 2] = '\0';
	}
}

static char **names;      /* the password file's user names, sorted */
static size_t nnames;
static int iterations = DEFAULT_ITERATIONS;
static unsigned long dummy_checks;

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **list, size_t n)
{
	for(size_t i = 0; i < n; i++) free(list[i]);
	free(list);
}

/* the password file's names (lines "name:$7$iterations$salt$hash", '#' comments), as mosquitto reads them */
static void read_passwd_names(void)
{
	const char *path = NULL;
	for(int i = 0; i < nopts; i++) if(!strcmp(opts[i].key, "passwd_file")) path = opts[i].value;
	if(!path) return;
	char **list = calloc(MAX_NAMES, sizeof(*list));
	size_t n = 0;
	int iters = DEFAULT_ITERATIONS;
	FILE *f = list ? fopen(path, "r") : NULL;
	if(f){
		char line[MAX_LINE];
		int whole = 1; /* the previous fgets ended a line */
		while(fgets(line, sizeof(line), f)){
			int starts = whole;
			whole = strchr(line, '\n') != NULL || feof(f);
			if(!starts || !whole || line[0] == '#') continue; /* a long line's rest, or too long */
			char *colon = strchr(line, ':');
			if(!colon) continue;
			*colon = '\0';
			char *name = line, *end = colon;
			while(*name == ' ' || *name == '\t') name++;
			while(end > name && (end[-1] == ' ' || end[-1] == '\t')) end--;
			*end = '\0';
			if(!*name) continue;
			if(!strncmp(colon + 1, "$7$", 3)){
				long it = strtol(colon + 4, NULL, 10);
				if(it > 0 && it <= MAX_ITERATIONS) iters = (int)it;
			}
			size_t len = (size_t)(end - name) + 1;
			if(n < MAX_NAMES && (list[n] = malloc(len)) != NULL) memcpy(list[n++], name, len);
		}
		fclose(f);
	}
	if(list) qsort(list, n, sizeof(*list), by_name);
	free_names(names, nnames);
	names = list; /* NULL (out of memory): no names, every login pays the dummy cost */
	nnames = list ? n : 0;
	iterations = iters;
	mosquitto_log_printf(MOSQ_LOG_INFO, "camaudit_subscribe_acl: %zu user names in %s, %d iterations", nnames, path, iterations);
}

static int known_name(const char *user)
{
	return nnames && bsearch(&user, names, nnames, sizeof(*names), by_name) != NULL;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	const struct mosquitto_evt_basic_auth *ed = event_data;
	(void)event; (void)userdata;
	/* no name, or no password (mosquitto refuses a known name without one at no cost): nothing to even out */
	if(!ed->username || !*ed->username || !ed->password || known_name(ed->username)) return MOSQ_ERR_PLUGIN_DEFER;
	static const unsigned char salt[12] = "camaudit-pw";
	unsigned char hash[HASH_LEN];
	PKCS5_PBKDF2_HMAC(ed->password, (int)strlen(ed->password), salt, (int)sizeof(salt), iterations,
	                  EVP_sha512(), (int)sizeof(hash), hash);
	dummy_checks++;
	mosquitto_log_printf(MOSQ_LOG_DEBUG, "camaudit_subscribe_acl: dummy password check %lu (a name not in the password file, "
	                     "%d iterations)", dummy_checks, iterations);
	return MOSQ_ERR_PLUGIN_DEFER; /* the password_file refuses it */
}

/* `name` is one of the words of `list` (separated by `sep`) */
static int in_list(const char *list, const char *name, char sep)
{
	size_t len = strlen(name);
	for(const char *p = list; (p = strstr(p, name)) != NULL; p++){
		if((p == list || p[-1] == sep) && (p[len] == sep || p[len] == '\0')) return 1;
	}
	return 0;
}

/* `topic` equals `pattern` with each %u replaced by `user` */
static int same(const char *pattern, const char *topic, const char *user)
{
	size_t ulen = strlen(user);
	while(*pattern){
		if(pattern[0] == '%' && pattern[1] == 'u'){
			if(strncmp(topic, user, ulen)) return 0;
			topic += ulen;
			pattern += 2;
		}else if(*pattern++ != *topic++){
			return 0;
		}
	}
	return *topic == '\0';
}

static int on_acl(int event, void *event_data, void *userdata)
{
	const struct mosquitto_evt_acl_check *ed = event_data;
	(void)event; (void)userdata;
	if(ed->access != MOSQ_ACL_SUBSCRIBE) return MOSQ_ERR_PLUGIN_DEFER;
	const char *user = mosquitto_client_username(ed->client);
	if(!user || !*user || strpbrk(user, "+#/\n ")) return MOSQ_ERR_ACL_DENIED;
	int own = 0;
	for(int i = 0; i < nopts; i++){
		if(!strcmp(opts[i].key, "trusted") && in_list(opts[i].value, user, ' ')) return MOSQ_ERR_PLUGIN_DEFER;
		if(!strncmp(opts[i].key, "allow.", 6) && !strcmp(opts[i].key + 6, user)) own = 1;
	}
	if(trusted_file[0] && in_list(trusted_file, user, '\n')) return MOSQ_ERR_PLUGIN_DEFER;
	for(int i = 0; i < nopts; i++){
		const char *k = opts[i].key;
		if(own ? (!strncmp(k, "allow.", 6) && !strcmp(k + 6, user) && !strcmp(opts[i].value, ed->topic))
		       : (!strcmp(k, "allow") && same(opts[i].value, ed->topic, user))){
			return MOSQ_ERR_PLUGIN_DEFER; /* on the list: the acl_file has the last word */
		}
	}
	return MOSQ_ERR_ACL_DENIED;
}

static int on_reload(int event, void *event_data, void *userdata)
{
	(void)event; (void)event_data; (void)userdata;
	read_trusted_file();
	read_passwd_names();
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int count, const int *versions)
{
	for(int i = 0; i < count; i++) if(versions[i] == 5) return 5;
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	pid = identifier;
	opts = options;
	nopts = option_count;
	read_trusted_file();
	read_passwd_names();
	int rc = mosquitto_callback_register(pid, MOSQ_EVT_ACL_CHECK, on_acl, NULL, NULL);
	if(!rc) rc = mosquitto_callback_register(pid, MOSQ_EVT_RELOAD, on_reload, NULL, NULL);
	for(int i = 0; !rc && i < nopts; i++){
		if(!strcmp(opts[i].key, "passwd_file")){
			rc = mosquitto_callback_register(pid, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
			break;
		}
	}
	return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata; (void)options; (void)option_count;
	mosquitto_callback_unregister(pid, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL); /* not registered: an error, ignored */
	free_names(names, nnames);
	names = NULL;
	nnames = 0;
	mosquitto_callback_unregister(pid, MOSQ_EVT_RELOAD, on_reload, NULL);
	return mosquitto_callback_unregister(pid, MOSQ_EVT_ACL_CHECK, on_acl, NULL);
}
