// The LMS side of the SCORM browser tests: scorm-again hosts the runtime API, seeded with what
// the test read from the exported manifest (mastery score, completion threshold, scaled
// passing score), and every call the content makes is recorded in window.lmsLog.
(function () {
  "use strict";
  var query = new URLSearchParams(window.location.search);
  var version = query.get("version");
  var v12 = version === "scorm12";
  var settings = { autocommit: false, lmsCommitUrl: false, logLevel: 5, mastery_override: true };
  var api = v12 ? new window.Scorm12API(settings) : new window.Scorm2004API(settings);
  window.lmsLog = [];

  function record(event) {
    return function (element, value) {
      window.lmsLog.push({ event: event, element: element === undefined ? null : element, value: value === undefined ? null : value });
    };
  }
  var names = v12
    ? { init: "LMSInitialize", set: "LMSSetValue.cmi.*", commit: "LMSCommit", finish: "LMSFinish" }
    : { init: "Initialize", set: "SetValue.cmi.*", commit: "Commit", finish: "Terminate" };
  api.on(names.init, record("initialize"));
  api.on(names.set, record("set"));
  api.on(names.commit, record("commit"));
  api.on(names.finish, record("terminate"));

  if (v12) {
    var core = { student_id: "learner-1", student_name: "Learner, Test", lesson_mode: "normal", credit: "credit" };
    var seed = { core: core };
    if (query.get("mastery_score")) seed.student_data = { mastery_score: query.get("mastery_score") };
    api.loadFromJSON(seed);
    window.API = api;
  } else {
    var seed2004 = { learner_id: "learner-1", learner_name: "Learner, Test", mode: "normal", credit: "credit" };
    if (query.get("completion_threshold")) seed2004.completion_threshold = query.get("completion_threshold");
    if (query.get("scaled_passing_score")) seed2004.scaled_passing_score = query.get("scaled_passing_score");
    api.loadFromJSON(seed2004);
    window.API_1484_11 = api;
  }
  window.lmsApi = api;
  window.lmsSnapshot = function () {
    return JSON.parse(JSON.stringify(api.cmi));
  };
  window.addEventListener("DOMContentLoaded", function () {
    document.getElementById("content").src = query.get("launch");
  });
})();
