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
 * Options: plugin_opt_trusted, plugin_opt_trusted_file, plugin_opt_allow, plugin_opt_allow.USER
 * (any option may repeat). Written by camaudit hub (hub/broker/mosquitto.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

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
	int rc = mosquitto_callback_register(pid, MOSQ_EVT_ACL_CHECK, on_acl, NULL, NULL);
	return rc ? rc : mosquitto_callback_register(pid, MOSQ_EVT_RELOAD, on_reload, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata; (void)options; (void)option_count;
	mosquitto_callback_unregister(pid, MOSQ_EVT_RELOAD, on_reload, NULL);
	return mosquitto_callback_unregister(pid, MOSQ_EVT_ACL_CHECK, on_acl, NULL);
}
