;; Test guest for host/plugin, built by `make testdata` (wabt's wat2wasm).
;; Packed results are ptr<<32|len (sdk/ABI.md). Behaviour: a well-behaved store with every feature; probe logs one line.

(module
  (import "agent_vault_v1" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  ;; One input buffer at a time: the host frees before the next call.
  (func $alloc (export "alloc") (param $n i32) (result i32) (i32.const 32768))
  (func $free (export "free") (param $p i32))
  (func $abi_version (export "abi_version") (result i32) (i32.const 1))
  (func $manifest (export "manifest") (result i64) (i64.const 5978594476120) (; ptr 1392, len 88 ;))
  (func $validate_config (export "validate_config") (param $in i32) (param $in_len i32) (result i64) (i64.const 6390911336457) (; ptr 1488, len 9 ;))
  (func $probe (export "probe") (param $in i32) (param $in_len i32) (result i64) (call $log (i32.const 0) (i32.const 1024) (i32.const 16)) (i64.const 4501125726217) (; ptr 1048, len 9 ;))
  (func $sync (export "sync") (param $in i32) (param $in_len i32) (result i64) (i64.const 4569845202998) (; ptr 1064, len 54 ;))
  (func $validate_write (export "validate_write") (param $in i32) (param $in_len i32) (result i64) (i64.const 6390911336457) (; ptr 1488, len 9 ;))
  (func $dynamic_list (export "dynamic_list") (param $in i32) (param $in_len i32) (result i64) (i64.const 4810363371619) (; ptr 1120, len 99 ;))
  (func $lease_create (export "lease_create") (param $in i32) (param $in_len i32) (result i64) (i64.const 5257039970401) (; ptr 1224, len 97 ;))
  (func $lease_renew (export "lease_renew") (param $in i32) (param $in_len i32) (result i64) (i64.const 5703716569147) (; ptr 1328, len 59 ;))
  (func $lease_revoke (export "lease_revoke") (param $in i32) (param $in_len i32) (result i64) (i64.const 6390911336457) (; ptr 1488, len 9 ;))
  (data (i32.const 1024) "probing upstream")
  (data (i32.const 1048) "{\22ok\22:{}}")
  (data (i32.const 1064) "{\22ok\22:{\22secrets\22:{\22API_KEY\22:\22v1\22,\22DB_PASSWORD\22:\22v2\22}}}")
  (data (i32.const 1120) "{\22ok\22:{\22secrets\22:[{\22name\22:\22db\22,\22fields\22:[\22DB_USER\22,\22DB_PASS\22],\22ttl_seconds\22:60,\22renewable\22:true}]}}")
  (data (i32.const 1224) "{\22ok\22:{\22lease_id\22:\22l1\22,\22values\22:{\22DB_USER\22:\22u\22,\22DB_PASS\22:\22p\22},\22ttl_seconds\22:60,\22renewable\22:true}}")
  (data (i32.const 1328) "{\22ok\22:{\22lease_id\22:\22l1\22,\22ttl_seconds\22:120,\22renewable\22:true}}")
  (data (i32.const 1392) "{\22ok\22:{\22kind\22:\22okstore\22,\22abi_version\22:1,\22features\22:7,\22config_schema\22:{\22type\22:\22object\22}}}")
  (data (i32.const 1488) "{\22ok\22:{}}")
)
