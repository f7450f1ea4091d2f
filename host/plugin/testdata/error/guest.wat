;; Test guest for host/plugin, built by `make testdata` (wabt's wat2wasm).
;; Packed results are ptr<<32|len (sdk/ABI.md). Behaviour: reports errors in its envelope: a pass-through code, a bad key, an unknown code.

(module
  (memory (export "memory") 2)
  ;; One input buffer at a time: the host frees before the next call.
  (func $alloc (export "alloc") (param $n i32) (result i32) (i32.const 32768))
  (func $free (export "free") (param $p i32))
  (func $abi_version (export "abi_version") (result i32) (i32.const 1))
  (func $manifest (export "manifest") (result i64) (i64.const 5669356830809) (; ptr 1320, len 89 ;))
  (func $validate_config (export "validate_config") (param $in i32) (param $in_len i32) (result i64) (i64.const 4947802325042) (; ptr 1152, len 50 ;))
  (func $probe (export "probe") (param $in i32) (param $in_len i32) (result i64) (i64.const 4398046511178) (; ptr 1024, len 74 ;))
  (func $sync (export "sync") (param $in i32) (param $in_len i32) (result i64) (i64.const 4741643894829) (; ptr 1104, len 45 ;))
  (func $validate_write (export "validate_write") (param $in i32) (param $in_len i32) (result i64) (i64.const 6081673691145) (; ptr 1416, len 9 ;))
  (func $dynamic_list (export "dynamic_list") (param $in i32) (param $in_len i32) (result i64) (i64.const 5428838662197) (; ptr 1264, len 53 ;))
  (func $lease_create (export "lease_create") (param $in i32) (param $in_len i32) (result i64) (i64.const 5188320493618) (; ptr 1208, len 50 ;))
  (func $lease_renew (export "lease_renew") (param $in i32) (param $in_len i32) (result i64) (i64.const 6081673691145) (; ptr 1416, len 9 ;))
  (func $lease_revoke (export "lease_revoke") (param $in i32) (param $in_len i32) (result i64) (i64.const 6081673691145) (; ptr 1416, len 9 ;))
  (data (i32.const 1024) "{\22error\22:{\22code\22:\22external_store_auth_failed\22,\22message\22:\22token rejected\22}}")
  (data (i32.const 1104) "{\22ok\22:{\22secrets\22:{\22GOOD\22:\22x\22,\22bad-key\22:\22y\22}}}")
  (data (i32.const 1152) "{\22error\22:{\22code\22:\22unauthorized\22,\22message\22:\22nope\22}}")
  (data (i32.const 1208) "{\22ok\22:{\22lease_id\22:\22\22,\22values\22:{},\22ttl_seconds\22:0}}")
  (data (i32.const 1264) "{\22ok\22:{\22secrets\22:[{\22name\22:\22db\22,\22fields\22:[\22lower\22]}]}}")
  (data (i32.const 1320) "{\22ok\22:{\22kind\22:\22errstore\22,\22abi_version\22:1,\22features\22:7,\22config_schema\22:{\22type\22:\22object\22}}}")
  (data (i32.const 1416) "{\22ok\22:{}}")
)
