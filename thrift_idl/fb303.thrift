// Mortar: fb303 base service.
//
// ThriftHiveMetastore extends this small, long-frozen "FacebookService"
// interface. Hive clients rarely call it, but the method names, argument ids
// and oneway flags below must match what those clients were built with.

namespace py metastore.hms.gen.fb303

// Coarse health reported by getStatus().
enum fb_status {
  DEAD     = 0
  STARTING = 1
  ALIVE    = 2
  STOPPING = 3
  STOPPED  = 4
  WARNING  = 5
}

service FacebookService {
  // --- identity and health ---
  string getName()
  string getVersion()
  fb_status getStatus()
  string getStatusDetails()
  i64 aliveSince()

  // --- counters ---
  map<string, i64> getCounters()
  i64 getCounter(1: string key)

  // --- runtime options ---
  void setOption(1: string key, 2: string value)
  string getOption(1: string key)
  map<string, string> getOptions()

  // --- diagnostics ---
  string getCpuProfile(1: i32 profileDurationInSec)

  // --- lifecycle (fire-and-forget) ---
  oneway void reinitialize()
  oneway void shutdown()
}
