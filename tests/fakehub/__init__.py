"""A small fake of the Hugging Face Hub and ModelScope HTTP APIs, for tests through the real SDKs.

No open-source Hub server exists and no real Hub is reachable from CI, so :mod:`.server`
answers the endpoints that ``huggingface_hub`` (HF_ENDPOINT) and ``modelscope_hub`` (the
SDK under ``modelscope``; MODELSCOPE_ENDPOINT) call when publishing, and STORES what it
receives: blobs by sha256 on disk, repos as branches and tags pointing at commits that map
paths to content. It checks the bearer token, the sha256 of every uploaded blob and that a
commit only names blobs it has. It can fail a route a given number of times (503) and slow
large uploads down, so retries and interrupted publishes can be tested.

Endpoints covered (anything else answers 404 and is recorded in ``FakeHub.unknown``):

=========================================================  =====================================
Hugging Face (huggingface_hub 2.x)                          SDK call
=========================================================  =====================================
POST /api/repos/create                                      HfApi.create_repo
GET  /api/models/{repo}[/revision/{rev}]                    HfApi.repo_info / model_info
GET  /api/models/{repo}/refs                                HfApi.list_repo_refs
POST /api/models/{repo}/branch/{branch}                     HfApi.create_branch
DELETE /api/models/{repo}/branch/{branch}                   HfApi.delete_branch
POST /api/models/{repo}/tag/{rev}                           HfApi.create_tag
GET  /api/models/{repo}/tree/{rev}[/{path}]                 HfApi.list_repo_tree / list_repo_files
POST /api/models/{repo}/preupload/{rev}                     create_commit (regular vs LFS)
POST /{repo}.git/info/lfs/objects/batch                     create_commit (LFS batch, basic)
PUT  /_fake/lfs/{oid}                                       LFS upload (href from the batch)
POST /api/models/{repo}/commit/{rev}                        create_commit / upload_folder
GET  /{repo}/resolve/{rev}/{path}                           hf_hub_download (plain GET)
POST /api/validate-yaml                                     create_commit (card check, before upload)
GET  /api/agent-harnesses                                   the SDK's user-agent detection
=========================================================  =====================================

Xet storage is not faked: tests set HF_HUB_DISABLE_XET=1 so the SDK uses plain LFS.

=========================================================  =====================================
ModelScope (modelscope-hub 0.5)                             SDK call
=========================================================  =====================================
GET  /openapi/v1/models/{repo}                              HubApi.get_repo / repo_exists
GET  /api/v1/models/{repo}                                  (legacy fallback of get_repo)
POST /api/v1/models                                         HubApi.create_repo
GET  /api/v1/models/{repo}/repo/files                       HubApi.list_repo_files
GET  /api/v1/models/{repo}/revisions                        HubApi.list_repo_revisions
POST /api/v1/models/{repo}/repo/tag                         HubApi.create_repo_tag
POST /api/v1/repos/models/{repo}/info/lfs/objects/batch     upload_folder (blob check)
PUT  /_fake/ms-lfs/{oid}                                    upload_folder (blob upload)
POST /api/v1/repos/models/{repo}/commit/{rev}               upload_folder / upload_file (commit)
=========================================================  =====================================
"""
