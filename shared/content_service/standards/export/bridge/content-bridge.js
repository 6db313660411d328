/*
 * content-bridge.js: the content-service runtime bridge. One file, no dependencies.
 *
 * The exporter adds it to every launched page with a <script src data-content-bridge> tag
 * whose data-* attributes carry the export's options. Content calls window.ContentBridge
 * (start, setProgress, setScore, complete, pass, fail, suspend, finish); the bridge maps
 * each call to the standard the package was exported to: SCORM 1.2 (window.API), SCORM
 * 2004 4th edition (window.API_1484_11), cmi5 (launch parameters, fetch token,
 * LMS.LaunchData, statements) or xAPI (TinCan launch parameters, statements).
 * docs/export.md documents the API and every mapping.
 */
(function (global) {
  "use strict";

  var script = global.document && (global.document.currentScript || global.document.querySelector("script[data-content-bridge]"));
  var data = (script && script.dataset) || {};

  function number(value) {
    if (value === undefined || value === null || value === "") return null;
    var parsed = Number(value);
    return isFinite(parsed) ? parsed : null;
  }

  var config = {
    standard: data.standard || "",
    reporting: data.reporting || "completed/incomplete",
    threshold: number(data.threshold),
    mastery: number(data.mastery),
    auto: data.auto === "true",
    completeOnLaunch: data.complete === "launch",
    activity: data.activity || "",
    course: data.course || "",
    role: data.role || "content",
    launch: data.launch || ""
  };
  var SUCCESS = config.reporting.split("/")[0];
  var FAILURE = config.reporting.split("/")[1];

  var VERBS = {
    initialized: "http://adlnet.gov/expapi/verbs/initialized",
    completed: "http://adlnet.gov/expapi/verbs/completed",
    passed: "http://adlnet.gov/expapi/verbs/passed",
    failed: "http://adlnet.gov/expapi/verbs/failed",
    terminated: "http://adlnet.gov/expapi/verbs/terminated",
    progressed: "http://adlnet.gov/expapi/verbs/progressed"
  };
  var CMI5 = {
    category: "https://w3id.org/xapi/cmi5/context/categories/cmi5",
    moveOn: "https://w3id.org/xapi/cmi5/context/categories/moveon",
    masteryScore: "https://w3id.org/xapi/cmi5/context/extensions/masteryscore",
    progress: "https://w3id.org/xapi/cmi5/result/extensions/progress"
  };
  var SUSPEND_LIMIT = { scorm12: 4096, scorm2004: 64000 };

  var state = {
    started: null,
    finished: null,
    startTime: null,
    progress: null,
    score: null,
    completed: false,
    success: null,
    suspendData: null,
    mastery: config.mastery,
    threshold: config.threshold,
    normal: true,
    sent: {},
    errors: []
  };

  function fail(message) {
    state.errors.push(message);
    if (global.console) global.console.warn("content-bridge: " + message);
  }

  // ---- time ---------------------------------------------------------------------------
  function elapsedCentiseconds() {
    return Math.max(0, Math.round((Date.now() - (state.startTime || Date.now())) / 10));
  }
  function pad(value, width) {
    var text = String(value);
    while (text.length < width) text = "0" + text;
    return text;
  }
  // SCORM 1.2 CMITimeSpan: HHHH:MM:SS.SS (hours 2 to 4 digits).
  function cmiTimespan(cs) {
    var hours = Math.min(9999, Math.floor(cs / 360000));
    var minutes = Math.floor(cs / 6000) % 60;
    var seconds = (cs % 6000) / 100;
    return pad(hours, 2) + ":" + pad(minutes, 2) + ":" + pad(seconds.toFixed(2), 5);
  }
  // ISO 8601 duration (SCORM 2004 timeinterval, xAPI/cmi5 result.duration), 0.01 s precision.
  function isoDuration(cs) {
    var hours = Math.floor(cs / 360000);
    var minutes = Math.floor(cs / 6000) % 60;
    var seconds = (cs % 6000) / 100;
    return "PT" + (hours ? hours + "H" : "") + (minutes ? minutes + "M" : "") + seconds.toFixed(2).replace(/\.00$/, "") + "S";
  }

  // ---- judging ------------------------------------------------------------------------
  // With a mastery score and a score, the score decides success, as the LMS will (SCORM 1.2
  // mastery override, SCORM 2004 satisfiedByMeasure, cmi5 masteryScore rules).
  function judged(requested) {
    if (state.mastery !== null && state.score) return state.score.scaled >= state.mastery ? "passed" : "failed";
    return requested;
  }

  // ---- SCORM --------------------------------------------------------------------------
  function findApi(name) {
    function walk(win) {
      for (var depth = 0; win && depth < 500; depth++) {
        try {
          if (win[name]) return win[name];
        } catch (ignored) { /* a cross-origin frame: keep walking */ }
        if (win.parent === win) break;
        win = win.parent;
      }
      return null;
    }
    var api = walk(global);
    if (!api && global.opener) api = walk(global.opener);
    if (!api && global.top && global.top.opener) api = walk(global.top.opener);
    return api;
  }

  function scormAdapter(version) {
    var v12 = version === "scorm12";
    var api = null;
    var calls = v12
      ? { init: "LMSInitialize", get: "LMSGetValue", set: "LMSSetValue", commit: "LMSCommit", finish: "LMSFinish", error: "LMSGetLastError" }
      : { init: "Initialize", get: "GetValue", set: "SetValue", commit: "Commit", finish: "Terminate", error: "GetLastError" };

    function get(element) {
      var value = api[calls.get](element);
      return value === undefined || value === null ? "" : String(value);
    }
    function set(element, value) {
      var ok = String(api[calls.set](element, String(value))) === "true";
      if (!ok) fail(calls.set + "(" + element + ") failed with error " + api[calls.error]());
      return ok;
    }
    function status() {
      if (v12) {
        var outcome = judged(state.success);
        if (state.mastery !== null && state.score) return outcome;
        if (outcome === "passed" || state.completed) return SUCCESS;
        if (outcome === "failed") return FAILURE;
        return "incomplete";
      }
      return null;
    }
    function write() {
      if (!state.normal) return;
      if (v12) {
        set("cmi.core.lesson_status", status());
        return;
      }
      var success = judged(state.success);
      var completed = state.completed || success === "passed" || (success === "failed" && FAILURE === "failed");
      if (completed) set("cmi.progress_measure", "1");
      else if (state.progress !== null) set("cmi.progress_measure", String(state.progress));
      set("cmi.completion_status", completed ? "completed" : "incomplete");
      if (success === "passed" || (success === "failed" && (FAILURE === "failed" || state.mastery !== null))) {
        set("cmi.success_status", success);
      }
    }
    return {
      start: function () {
        api = findApi(v12 ? "API" : "API_1484_11");
        if (!api) throw new Error("no SCORM " + (v12 ? "1.2 API" : "2004 API_1484_11") + " found in parent or opener frames");
        if (String(api[calls.init]("")) !== "true") throw new Error(calls.init + " failed with error " + api[calls.error]());
        var mode = get(v12 ? "cmi.core.lesson_mode" : "cmi.mode") || "normal";
        state.normal = mode === "normal";
        var mastery = number(get(v12 ? "cmi.student_data.mastery_score" : "cmi.scaled_passing_score"));
        if (mastery !== null) state.mastery = v12 ? mastery / 100 : mastery;
        if (!v12) {
          var threshold = number(get("cmi.completion_threshold"));
          if (threshold !== null) state.threshold = threshold;
        }
        var resumed = get(v12 ? "cmi.suspend_data" : "cmi.suspend_data");
        if (state.normal) {
          if (v12 && get("cmi.core.lesson_status") === "not attempted") set("cmi.core.lesson_status", "incomplete");
          if (!v12 && get("cmi.completion_status") === "unknown") set("cmi.completion_status", "incomplete");
        }
        return { resumeData: resumed || null, mode: mode };
      },
      progress: function () {
        // Once completed, progress_measure stays 1: an LMS completing by measure must not undo it.
        if (!v12 && state.normal && !state.completed) set("cmi.progress_measure", String(state.progress));
      },
      score: function (score) {
        if (v12) {
          set("cmi.core.score.min", "0");
          set("cmi.core.score.max", "100");
          set("cmi.core.score.raw", String(Math.round(score.scaled * 10000) / 100));
        } else {
          set("cmi.score.min", String(score.min));
          set("cmi.score.max", String(score.max));
          set("cmi.score.raw", String(score.raw));
          set("cmi.score.scaled", String(Math.round(score.scaled * 1e7) / 1e7));
        }
      },
      status: write,
      suspend: function (text) {
        set("cmi.suspend_data", text);
      },
      finish: function () {
        write();
        var done = state.completed || state.success !== null;
        var exit = state.suspendData !== null && !done ? "suspend" : v12 ? "" : "normal";
        var cs = elapsedCentiseconds();
        if (v12) {
          set("cmi.core.session_time", cmiTimespan(cs));
          set("cmi.core.exit", exit);
        } else {
          set("cmi.session_time", isoDuration(cs));
          set("cmi.exit", exit);
        }
        api[calls.commit]("");
        api[calls.finish]("");
      }
    };
  }

  // ---- xAPI and cmi5 ------------------------------------------------------------------
  function uuid() {
    var bytes = new Uint8Array(16);
    global.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function normaliseActor(actor) {
    // TinCan 0.9 launch links send {"name": ["x"], "mbox": ["mailto:..."]}: take the first of each.
    var out = { objectType: actor.objectType || "Agent" };
    ["name", "mbox", "mbox_sha1sum", "openid", "account"].forEach(function (key) {
      var value = actor[key];
      if (Array.isArray(value)) value = value[0];
      if (value !== undefined && value !== null) out[key] = value;
    });
    if (out.account && (out.account.accountServiceHomePage || out.account.accountName)) {
      out.account = { homePage: out.account.homePage || out.account.accountServiceHomePage, name: out.account.name || out.account.accountName };
    }
    return out;
  }

  function lrsAdapter(kind) {
    var cmi5 = kind === "cmi5";
    var params = new URLSearchParams(global.location.search);
    var endpoint = params.get("endpoint") || "";
    if (endpoint && endpoint.charAt(endpoint.length - 1) !== "/") endpoint += "/";
    var auth = params.get("auth");
    var actor = null;
    var activityId = params.get(cmi5 ? "activityId" : "activity_id") || config.activity;
    var registration = params.get("registration");
    var launchData = {};
    var queue = Promise.resolve();

    function headers(json) {
      var out = { "X-Experience-API-Version": "1.0.3", Authorization: auth };
      if (json) out["Content-Type"] = "application/json";
      return out;
    }
    function stateUrl(stateId) {
      var query = "stateId=" + encodeURIComponent(stateId) + "&activityId=" + encodeURIComponent(activityId) +
        "&agent=" + encodeURIComponent(JSON.stringify(actor));
      if (registration) query += "&registration=" + encodeURIComponent(registration);
      return endpoint + "activities/state?" + query;
    }
    function context(categories) {
      var ctx = cmi5 ? JSON.parse(JSON.stringify(launchData.contextTemplate || {})) : {};
      if (registration) ctx.registration = registration;
      if (!cmi5 && config.course && config.course !== activityId) {
        // A part of an xAPI course: its statements name the course as their parent activity.
        ctx.contextActivities = { parent: [{ id: config.course, objectType: "Activity" }] };
      }
      if (categories.length) {
        ctx.contextActivities = ctx.contextActivities || {};
        ctx.contextActivities.category = (ctx.contextActivities.category || []).concat(
          categories.map(function (id) { return { id: id, objectType: "Activity" }; })
        );
      }
      return ctx;
    }
    function send(verb, result, options) {
      options = options || {};
      var categories = cmi5 && options.cmi5 !== false ? [CMI5.category].concat(options.moveOn ? [CMI5.moveOn] : []) : [];
      var ctx = context(categories);
      if (cmi5 && options.mastery && state.mastery !== null) {
        ctx.extensions = ctx.extensions || {};
        ctx.extensions[CMI5.masteryScore] = state.mastery;
      }
      var statement = {
        id: uuid(),
        timestamp: new Date().toISOString(),
        actor: actor,
        verb: { id: VERBS[verb], display: { "en-US": verb } },
        object: { objectType: "Activity", id: activityId },
        context: ctx
      };
      if (result) statement.result = result;
      state.sent[verb] = (state.sent[verb] || 0) + 1;
      queue = queue.then(function () {
        return global.fetch(endpoint + "statements?statementId=" + statement.id, {
          method: "PUT", headers: headers(true), body: JSON.stringify(statement), keepalive: !!options.keepalive
        }).then(function (response) {
          if (!response.ok) fail("statement " + verb + " refused: HTTP " + response.status);
        });
      }).catch(function (error) { fail("statement " + verb + " not sent: " + error); });
      return queue;
    }
    function scoreResult() {
      if (!state.score) return {};
      return { score: { scaled: Math.round(state.score.scaled * 1e4) / 1e4, raw: state.score.raw, min: state.score.min, max: state.score.max } };
    }
    function withDuration(result) {
      result.duration = isoDuration(elapsedCentiseconds());
      return result;
    }
    function write() {
      if (!state.normal) return;
      var success = judged(state.success);
      var completed = state.completed || success === "passed" || (success === "failed" && FAILURE === "failed");
      if (completed && !state.sent.completed) {
        send("completed", withDuration({ completion: true }), { moveOn: true });
      }
      if (success === "passed" && !state.sent.passed && !state.sent.failed) {
        send("passed", withDuration(Object.assign(scoreResult(), { success: true })), { moveOn: true, mastery: true });
      } else if (success === "failed" && !state.sent.passed && !state.sent.failed && (FAILURE === "failed" || state.mastery !== null)) {
        send("failed", withDuration(Object.assign(scoreResult(), { success: false })), { moveOn: true, mastery: true });
      }
    }
    return {
      start: function () {
        if (!endpoint) return Promise.reject(new Error("no endpoint launch parameter: not launched by an LMS"));
        try {
          actor = normaliseActor(JSON.parse(params.get("actor") || "null") || {});
        } catch (error) {
          return Promise.reject(new Error("the actor launch parameter is not JSON"));
        }
        if (!activityId) return Promise.reject(new Error("no activity id (launch parameter or data-activity)"));
        var token = Promise.resolve(auth);
        if (cmi5) {
          var fetchUrl = params.get("fetch");
          if (!fetchUrl || !registration) return Promise.reject(new Error("cmi5 launch needs fetch and registration parameters"));
          token = global.fetch(fetchUrl, { method: "POST" }).then(function (response) {
            return response.json();
          }).then(function (body) {
            if (!body["auth-token"]) throw new Error("fetch returned no auth-token: " + JSON.stringify(body));
            return "Basic " + body["auth-token"];
          });
        }
        return token.then(function (value) {
          auth = value;
          if (!cmi5) return null;
          return global.fetch(stateUrl("LMS.LaunchData"), { headers: headers(false) }).then(function (response) {
            if (!response.ok) throw new Error("LMS.LaunchData: HTTP " + response.status);
            return response.json();
          });
        }).then(function (launch) {
          launchData = launch || {};
          if (cmi5) {
            state.normal = (launchData.launchMode || "Normal") === "Normal";
            if (typeof launchData.masteryScore === "number") state.mastery = launchData.masteryScore;
          }
          send("initialized", null, {});
          return global.fetch(stateUrl("content-bridge.suspend"), { headers: headers(false) }).then(function (response) {
            return response.ok ? response.text() : null;
          }).catch(function () { return null; });
        }).then(function (resumed) {
          return { resumeData: resumed || null, mode: cmi5 ? launchData.launchMode || "Normal" : "Normal" };
        });
      },
      progress: function () {
        if (!state.normal || state.completed) return;
        var result = {};
        result.extensions = {};
        result.extensions[CMI5.progress] = Math.round(state.progress * 100);
        send("progressed", result, { cmi5: false });
      },
      score: function () { /* reported with passed/failed */ },
      status: write,
      suspend: function (text) {
        return global.fetch(stateUrl("content-bridge.suspend"), { method: "PUT", headers: { "X-Experience-API-Version": "1.0.3", Authorization: auth, "Content-Type": "text/plain" }, body: text })
          .then(function (response) { if (!response.ok) fail("suspend data refused: HTTP " + response.status); });
      },
      finish: function (keepalive) {
        write();
        send("terminated", withDuration({}), { keepalive: keepalive });
        return queue.then(function () {
          if (cmi5 && launchData.returnURL && !keepalive) global.location.assign(launchData.returnURL);
        });
      }
    };
  }

  // ---- the content-facing API ---------------------------------------------------------
  var adapter = null;
  function makeAdapter() {
    if (config.standard === "scorm12" || config.standard === "scorm2004") return scormAdapter(config.standard);
    if (config.standard === "cmi5" || config.standard === "xapi") return lrsAdapter(config.standard);
    throw new Error("unknown standard " + JSON.stringify(config.standard));
  }
  function running() {
    if (!state.started) throw new Error("call ContentBridge.start() first");
    if (state.finished) throw new Error("the session is finished");
  }
  function after(callback) {
    return state.started.then(function (value) {
      if (state.finished) return value;
      return callback();
    });
  }

  var ContentBridge = {
    version: "1",
    config: config,
    /** Connect to the LMS. Resolves with {resumeData, mode}. Calling it again returns the same promise. */
    start: function () {
      if (state.started) return state.started;
      state.startTime = Date.now();
      state.started = Promise.resolve().then(function () {
        adapter = makeAdapter();
        return adapter.start();
      }).then(function (info) {
        if (config.completeOnLaunch) ContentBridge.complete();
        return info;
      }, function (error) {
        fail(String(error && error.message ? error.message : error));
        throw error;
      });
      return state.started;
    },
    /** Progress from 0 to 1; reaching the completion threshold (or 1) completes the content. */
    setProgress: function (value) {
      running();
      var progress = Number(value);
      if (!(progress >= 0 && progress <= 1)) throw new RangeError("progress must be between 0 and 1");
      return after(function () {
        state.progress = progress;
        adapter.progress();
        var threshold = state.threshold === null ? 1 : state.threshold;
        if (progress >= threshold) return ContentBridge.complete();
        return undefined;
      });
    },
    /** A score: raw between min and max (min < max). Reported scaled where the standard wants it. */
    setScore: function (raw, min, max) {
      running();
      raw = Number(raw); min = min === undefined ? 0 : Number(min); max = max === undefined ? 100 : Number(max);
      if (![raw, min, max].every(isFinite) || !(min < max) || raw < min || raw > max) {
        throw new RangeError("score needs min < max and min <= raw <= max");
      }
      return after(function () {
        state.score = { raw: raw, min: min, max: max, scaled: (raw - min) / (max - min) };
        adapter.score(state.score);
      });
    },
    /** The content is completed. */
    complete: function () {
      running();
      return after(function () {
        state.completed = true;
        if (SUCCESS === "passed" && state.success === null) state.success = "passed";
        return adapter.status();
      });
    },
    /** The learner passed (a mastery score and a score decide instead, as the LMS would). */
    pass: function () {
      running();
      return after(function () {
        state.success = "passed";
        state.completed = true;
        return adapter.status();
      });
    },
    /** The learner failed (a mastery score and a score decide instead, as the LMS would). */
    fail: function () {
      running();
      return after(function () {
        state.success = "failed";
        return adapter.status();
      });
    },
    /** Data to resume from next time (a string, or anything JSON can encode). */
    suspend: function (value) {
      running();
      var text = typeof value === "string" ? value : JSON.stringify(value);
      var limit = SUSPEND_LIMIT[config.standard];
      if (limit && text.length > limit) {
        throw new RangeError("suspend data is " + text.length + " characters; " + config.standard + " allows " + limit);
      }
      return after(function () {
        state.suspendData = text;
        return adapter.suspend(text);
      });
    },
    /** End the session: session time, exit, commit and terminate. Resolves when the LMS has it all. */
    finish: function (keepalive) {
      if (!state.started) return Promise.resolve();
      if (state.finished) return state.finished;
      state.finished = state.started.then(function () {
        return adapter.finish(!!keepalive);
      }, function () { return undefined; });
      return state.finished;
    },
    /** What the bridge knows (for debugging and tests). */
    state: function () {
      return JSON.parse(JSON.stringify({
        progress: state.progress, score: state.score, completed: state.completed, success: state.success,
        mastery: state.mastery, threshold: state.threshold, normal: state.normal, sent: state.sent, errors: state.errors
      }));
    }
  };

  // The launcher page of an xAPI course with several parts: each part link gets the launch
  // parameters the LMS gave the course (endpoint, auth, actor, registration), with the part's
  // own activity_id, so the part reports to the same LRS as itself. Nothing else runs here.
  function prepareLauncher() {
    var launch = new URLSearchParams(global.location.search);
    launch.delete("activity_id");
    var links = global.document.querySelectorAll("a[data-activity]");
    Array.prototype.forEach.call(links, function (link) {
      var href = link.getAttribute("href");
      var hash = href.indexOf("#") >= 0 ? href.slice(href.indexOf("#")) : "";
      var base = hash ? href.slice(0, href.indexOf("#")) : href;
      var query = new URLSearchParams(launch.toString());
      query.set("activity_id", link.getAttribute("data-activity"));
      link.setAttribute("href", base + (base.indexOf("?") >= 0 ? "&" : "?") + query.toString() + hash);
    });
  }
  if (config.role === "launcher") {
    if (global.document.readyState === "loading") {
      global.document.addEventListener("DOMContentLoaded", prepareLauncher);
    } else {
      prepareLauncher();
    }
    return;
  }

  global.ContentBridge = ContentBridge;
  if (config.auto) {
    ContentBridge.start().catch(function () { /* recorded in state().errors */ });
    global.addEventListener("pagehide", function () { ContentBridge.finish(true); });
  }
})(window);
